"""A call mypy --strict must refuse against the generated `calc_client` module: a string where
`calc.add` takes an int (tests/typed_python_clients.rs)."""

from typing import Any

import calc_client


def misuse(client: Any) -> int:
    calc = calc_client.CalcClient(client)
    return calc.add(a="x", b=2)
