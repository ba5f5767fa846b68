"""Runs {busrt CLI, elbus CLI} x {busrtd, elbusd}, alternating in one run, and compares them.

Called by bench/four-way.sh, which installs busrt 0.5.6 and builds elbusd and elbus. Every
round runs the four combinations in turn, each on a fresh broker: busrt CLI -> busrtd, busrt
CLI -> elbusd, elbus CLI -> busrtd, elbus CLI -> elbusd. For every stage it prints each
combination's median iters/s over the rounds, the full-stack ratio (elbus CLI -> elbusd) /
(busrt CLI -> busrtd), the broker-alone ratio (busrt CLI -> elbusd) / (busrt CLI -> busrtd),
and the CPU microseconds per iteration of each benchmark client and each broker (utime + stime
from /proc between the stage's start and end marks: the busrt CLI's log lines, the elbus CLI's
--stage-marks). Beside the send stages it prints the one-way rate of a bare UNIX socket pair
for the same payload (one write per message), measured by the elbus CLI in each round
(--raw-socket), the bound of any client's send rate.

CPU per iteration survives a loaded machine far better than iters/s: on a shared or noisy host
compare those columns, and leave the rates to a quiet one.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_busrt import STAGES, cpu_seconds, start_broker  # noqa: E402

COMBOS = [('busrt', 'busrtd'), ('busrt', 'elbusd'), ('elbus', 'busrtd'), ('elbus', 'elbusd')]
SEND_STAGES = {'send.qos.no', 'send.qos.processed', 'send+recv.qos.no',
               'send+recv.qos.processed'}
BUSRT_ROW = re.compile(r'\s*(\S+)\s+[\d_]+\s+([\d.]+)\s+[\d.]+\s+([\d_]+)')
STARTED = re.compile(r'stage started: (\S+)')
DONE = re.compile(r'stage completed: (\S+)')


def broker_command(args, kind, socket, workers):
    if kind == 'busrtd':
        return [args.busrtd, '-B', socket, '-w', str(workers), '--queue-size', '1048576']
    cmd = [args.elbusd, '-B', socket]
    if args.broker_workers:
        cmd += ['-w', str(args.broker_workers)]
    return cmd


def client_command(args, client, socket):
    common = ['benchmark', '-w', str(args.workers), '--payload-size', str(args.payload),
              '-i', str(args.iters)]
    if client == 'busrt':
        return [args.busrt, socket] + common
    return [args.elbus, '--json', socket] + common + ['--stage-marks', '--raw-socket']


class Run:
    """One combination's run: per-stage rate, errors, CPU seconds of client and broker."""

    def __init__(self):
        self.rates, self.errors, self.cpu = {}, {}, {}
        self.raw_one_way = None
        self.failure = None


def measure(bench, broker, marks_from, run):
    """Follows the stage marks on `marks_from`, recording CPU seconds per stage; returns the
    lines read."""
    lines, marks = [], {}
    for line in marks_from:
        lines.append(line)
        started, done = STARTED.search(line), DONE.search(line)
        if started:
            marks[started.group(1)] = (cpu_seconds(broker.pid), cpu_seconds(bench.pid))
        elif done and done.group(1) in marks:
            b0, c0 = marks[done.group(1)]
            run.cpu[done.group(1)] = (cpu_seconds(bench.pid) - c0, cpu_seconds(broker.pid) - b0)
    return lines


def run_once(args, client, kind, socket, workdir, workers):
    run = Run()
    log_path = os.path.join(workdir, f'{client}-{kind}.log')
    with open(log_path, 'w') as log:
        ready = 'broker started'
        broker = start_broker(broker_command(args, kind, socket, workers), ready, log)
        try:
            if client == 'busrt':
                bench = subprocess.Popen(client_command(args, client, socket),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True)
                for line in measure(bench, broker, bench.stdout, run):
                    row = BUSRT_ROW.match(line)
                    if row and row.group(1) in STAGES:
                        run.rates[row.group(1)] = int(row.group(3).replace('_', ''))
                code = bench.wait()
            else:
                bench = subprocess.Popen(client_command(args, client, socket),
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
                measure(bench, broker, bench.stderr, run)
                out = bench.stdout.read()
                code = bench.wait()
                try:
                    doc = json.loads(out)
                    for stage in doc['stages']:
                        run.rates[stage['stage']] = stage['iters_per_sec']
                        run.errors[stage['stage']] = stage['errors']
                    run.raw_one_way = doc.get('raw_unix_one_way_per_sec')
                except (ValueError, KeyError):
                    pass
            if code != 0:
                run.failure = f'exit {code} (see {log_path} for the broker)'
        finally:
            broker.terminate()
            broker.wait()
    return run


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_rate(value):
    return '-' if value is None else f'{value:,.0f}'.replace(',', '_')


def fmt(value, spec):
    return '-' if value is None else format(value, spec)


def report(args, results, workers):
    print(f'four-way benchmark: -w {args.workers} --payload-size {args.payload} -i {args.iters}, '
          f'{args.rounds} round(s), medians; brokers with {workers} worker(s)'
          + ('' if args.broker_workers else ' (elbusd at its defaults, busrtd with as many)'))
    for (client, kind), runs in results.items():
        for i, run in enumerate(runs):
            if run.failure:
                print(f'  round {i + 1}: {client} CLI -> {kind} FAILED: {run.failure}')
            bad = {s: e for s, e in run.errors.items() if e}
            if bad:
                print(f'  round {i + 1}: {client} CLI -> {kind} errors: {bad}')
    raw = median(r.raw_one_way for r in results[('elbus', 'elbusd')] + results[('elbus', 'busrtd')])
    names = [f'{c}->{k}' for c, k in COMBOS]
    head = ['stage'] + [f'{n} it/s' for n in names] + ['full stack', 'broker alone',
                                                        'raw socket 1-way']
    lines = [head]
    for stage in STAGES:
        med = {combo: median(r.rates.get(stage) for r in results[combo]) for combo in COMBOS}
        base = med[('busrt', 'busrtd')]
        full = med[('elbus', 'elbusd')] / base if base and med[('elbus', 'elbusd')] else None
        alone = med[('busrt', 'elbusd')] / base if base and med[('busrt', 'elbusd')] else None
        lines.append([stage] + [fmt_rate(med[c]) for c in COMBOS]
                     + [fmt(full, '.2f'), fmt(alone, '.2f'),
                        fmt_rate(raw) if stage in SEND_STAGES else ''])
    print_table(lines, args.markdown)
    print()
    print('CPU µs per iteration, client / broker (utime + stime from /proc in the stage):')
    lines = [['stage'] + names]
    for stage in STAGES:
        row = [stage]
        for combo in COMBOS:
            client = median(r.cpu[stage][0] for r in results[combo] if stage in r.cpu)
            broker = median(r.cpu[stage][1] for r in results[combo] if stage in r.cpu)
            per_it = 1e6 / args.iters
            row.append(f'{fmt(client and client * per_it, ".2f")} / '
                       f'{fmt(broker and broker * per_it, ".2f")}')
        lines.append(row)
    print_table(lines, args.markdown)
    print(f'(CPU is sampled in clock ticks of 1/{os.sysconf("SC_CLK_TCK")} s: raise -i until '
          'every stage lasts a second or more for 1% resolution.)' if not args.markdown else '')


def print_table(lines, markdown):
    if markdown:
        print('| ' + ' | '.join(lines[0]) + ' |')
        print('|' + '---|' * len(lines[0]))
        for line in lines[1:]:
            print('| ' + ' | '.join(line) + ' |')
        return
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        print('  '.join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths))))
        if n == 0:
            print('-' * (sum(widths) + 2 * (len(widths) - 1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--workers', type=int, default=8, help='benchmark clients (-w)')
    parser.add_argument('--iters', type=int, default=1_000_000)
    parser.add_argument('--payload', type=int, default=100,
                        help='payload size in bytes (e.g. 100, 65536, 1048576)')
    parser.add_argument('--broker-workers', type=int, default=0,
                        help='run both brokers with -w N (default: elbusd at its defaults, '
                             'busrtd with the worker count elbusd reports)')
    parser.add_argument('--markdown', action='store_true', help='print Markdown tables')
    parser.add_argument('--only', default='',
                        help='comma-separated combinations to run, e.g. elbus-elbusd,busrt-elbusd '
                             '(default: all four; a ratio needs both of its combinations)')
    parser.add_argument('--busrt', required=True)
    parser.add_argument('--busrtd', required=True)
    parser.add_argument('--elbusd', required=True)
    parser.add_argument('--elbus', required=True)
    args = parser.parse_args()
    results = {combo: [] for combo in COMBOS}
    workers = args.broker_workers or None
    with tempfile.TemporaryDirectory(prefix='elbus-4way-') as workdir:
        socket = os.path.join(workdir, 'bench.sock')
        if workers is None:
            # elbusd logs the worker count it chose; busrtd gets the same.
            with open(os.path.join(workdir, 'probe.log'), 'w') as log:
                probe = start_broker([args.elbusd, '-B', socket], 'broker started', log)
                probe.terminate()
                probe.wait()
            with open(os.path.join(workdir, 'probe.log')) as f:
                found = re.search(r'workers: (\d+)', f.read())
            if not found:
                sys.exit('elbusd did not log its worker count ("workers: N"); use '
                         '--broker-workers')
            workers = int(found.group(1))
        for round_no in range(1, args.rounds + 1):
            for client, kind in COMBOS:
                if args.only and f'{client}-{kind}' not in args.only.split(','):
                    continue
                print(f'round {round_no}/{args.rounds}: {client} CLI -> {kind} ...',
                      file=sys.stderr, flush=True)
                results[(client, kind)].append(
                    run_once(args, client, kind, socket, workdir, workers))
        report(args, results, workers)


if __name__ == '__main__':
    main()
