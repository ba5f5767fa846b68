"""Type-checks (never runs) typical uses of the generated `calc_client` module: mypy --strict
must accept every line (tests/typed_python_clients.rs)."""

from typing import Any, Iterator, List

import calc_client


def use(client: Any) -> List[int]:
    calc = calc_client.CalcClient(client)
    total: int = calc.add(a=40, b=2)
    scaled: int = calc.sum(xs=[1, 2], scale=None)
    greeting: str = calc.hello()
    calc.reset()
    history: Iterator[calc_client.Added] = calc.history(limit=10)
    sums = [item['sum'] for item in history]
    event: calc_client.AddedEvent = calc_client.decode_added(b'')
    try:
        calc.div(a=1, b=0)
    except calc_client.DivisionByZero as e:
        code: int = e.code
        sums.append(code)
    return [total, scaled, len(greeting), event['a'], *sums]
