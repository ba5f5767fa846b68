"""Scrapes an elbusd metrics endpoint and parses it with PyPI prometheus-client's parser.

Usage: metrics_scrape.py URL

Fetches URL (`http://127.0.0.1:PORT/metrics`) with the standard library, checks the reply is
the Prometheus text format (status 200, its content type), parses the body with
`prometheus_client.parser.text_string_to_metric_families`, checks the conventions (every family
typed, counters' samples named `<family>_total`, no series twice, no negative counter), and
prints one JSON document on stdout for the Rust test to check values in:

    {"content_type": "...", "families": {"elbus_acks": {"type": "counter",
     "samples": [{"name": "elbus_acks_total", "labels": {"code": "0x01"}, "value": 3.0}]}}}

Exits non-zero with a message on stderr when any check fails.
"""

import json
import os
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

WAIT = float(os.environ.get('INTEROP_WAIT', '10'))


def check(cond, msg):
    """Like `assert`, but also active under `python -O`."""
    if not cond:
        raise AssertionError(msg)


def main():
    url = sys.argv[1]
    with urllib.request.urlopen(url, timeout=WAIT) as reply:
        check(reply.status == 200, f'{url}: status {reply.status}')
        content_type = reply.headers.get('Content-Type', '')
        body = reply.read().decode('utf-8')
    check(content_type.startswith('text/plain; version=0.0.4'),
          f'content type {content_type!r}')
    families = {}
    seen = set()
    for family in text_string_to_metric_families(body):
        check(family.name not in families, f'family {family.name} twice')
        check(family.type in ('counter', 'gauge'),
              f'{family.name}: type {family.type}')
        check(family.documentation, f'{family.name}: no help text')
        samples = []
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            check(key not in seen, f'series {key} twice')
            seen.add(key)
            if family.type == 'counter':
                check(sample.name == family.name + '_total',
                      f'counter sample {sample.name} of {family.name}')
                check(sample.value >= 0, f'{key} is negative')
            samples.append({
                'name': sample.name,
                'labels': sample.labels,
                'value': sample.value,
            })
        families[family.name] = {'type': family.type, 'samples': samples}
    check(families, 'no metrics at all')
    json.dump({'content_type': content_type, 'families': families}, sys.stdout)
    print()


if __name__ == '__main__':
    main()
