"""Runs the published busrt CLI benchmark against busrtd and elbusd in turn and compares them.

Called by bench/vs-busrt.sh, which installs busrt 0.5.6 and builds elbusd. elbusd runs at its
defaults and busrtd with the worker count elbusd reports (or both with --broker-workers N);
busrtd gets --queue-size 1048576, without which it cannot finish the benchmark. For every stage it
prints each broker's median iters/s over the rounds, the ratio elbus / busrtd, the CPU seconds the
broker and the benchmark client used during the stage (read from /proc at the stage's start and
end lines), and how busy the client's busiest thread was. The client runs its work on one tokio
worker thread, so a stage where that thread is close to 100% busy is bound by the client: no
broker can make it much faster.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

STAGES = ['rpc.call', 'rpc.call+handle', 'rpc.call0', 'send.qos.no', 'send.qos.processed',
          'send+recv.qos.no', 'send+recv.qos.processed']
TICK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (0 once it is gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def thread_cpu_seconds(pid):
    """utime + stime of each thread of a process, in seconds, by thread id."""
    seconds = {}
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except FileNotFoundError:
        return seconds
    for tid in tids:
        try:
            with open(f'/proc/{pid}/task/{tid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            seconds[tid] = (int(fields[11]) + int(fields[12])) / TICK
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return seconds


def busiest_thread(before, after, wall):
    """The largest share of `wall` one thread spent on a CPU between two thread_cpu_seconds."""
    if wall <= 0:
        return 0.0
    return max((after[tid] - before.get(tid, 0.0) for tid in after), default=0.0) / wall


def start_broker(cmd, ready, log):
    broker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log.flush()
        with open(log.name) as f:
            if ready in f.read():
                return broker
        if broker.poll() is not None:
            sys.exit(f'{cmd[0]} exited early; see {log.name}')
        time.sleep(0.05)
    broker.kill()
    sys.exit(f'{cmd[0]} did not start; see {log.name}')


def run_once(args, kind, socket, workdir, broker_workers):
    """One benchmark run against one broker; returns per-stage rates, CPU seconds, client
    thread load, and the broker's worker count."""
    if kind == 'busrtd':
        if not broker_workers:
            sys.exit('elbusd did not log its worker count ("workers: N"); use --broker-workers')
        cmd = [args.busrtd, '-B', socket, '-w', str(broker_workers), '--queue-size', '1048576']
    else:
        cmd = [args.elbusd, '-B', socket]
        if broker_workers:
            cmd += ['-w', str(broker_workers)]
    log_path = os.path.join(workdir, f'{kind}.log')
    with open(log_path, 'w') as log:
        broker = start_broker(cmd, 'broker started', log)
        with open(log_path) as f:
            reported = re.search(r'workers: (\d+)', f.read())
        workers = int(reported.group(1)) if reported else broker_workers
        try:
            bench = subprocess.Popen(
                [args.busrt, socket, 'benchmark', '-w', str(args.workers), '--payload-size',
                 str(args.payload), '-i', str(args.iters)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            rates, cpu, load, marks = {}, {}, {}, {}
            for line in bench.stdout:
                started = re.search(r'stage started: (\S+)', line)
                done = re.search(r'stage completed: (\S+)', line)
                if started:
                    marks[started.group(1)] = (cpu_seconds(broker.pid), cpu_seconds(bench.pid),
                                               thread_cpu_seconds(bench.pid), time.monotonic())
                elif done and done.group(1) in marks:
                    b0, c0, threads0, t0 = marks[done.group(1)]
                    cpu[done.group(1)] = (cpu_seconds(broker.pid) - b0,
                                          cpu_seconds(bench.pid) - c0)
                    load[done.group(1)] = busiest_thread(
                        threads0, thread_cpu_seconds(bench.pid), time.monotonic() - t0)
                row = re.match(r'\s*(\S+)\s+[\d_]+\s+([\d.]+)\s+[\d.]+\s+([\d_]+)', line)
                if row and row.group(1) in STAGES:
                    rates[row.group(1)] = (int(row.group(3).replace('_', '')),
                                           float(row.group(2)))
            if bench.wait() != 0:
                sys.exit(f'the benchmark against {kind} failed')
        finally:
            broker.terminate()
            broker.wait()
    return rates, cpu, load, workers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('rounds', nargs='?', type=int, default=3)
    parser.add_argument('workers', nargs='?', type=int, default=8)
    parser.add_argument('iters', nargs='?', type=int, default=1_000_000)
    parser.add_argument('payload', nargs='?', type=int, default=100)
    parser.add_argument('--broker-workers', type=int, default=0,
                        help='run both brokers with -w N (default: elbusd at its defaults, '
                             'busrtd with the worker count elbusd reports)')
    parser.add_argument('--busrt', required=True)
    parser.add_argument('--busrtd', required=True)
    parser.add_argument('--elbusd', required=True)
    args = parser.parse_args()
    results = {'busrtd': [], 'elbusd': []}
    with tempfile.TemporaryDirectory(prefix='elbus-bench-') as workdir:
        socket = os.path.join(workdir, 'bench.sock')
        broker_workers = args.broker_workers
        for round_no in range(1, args.rounds + 1):
            for kind in ('elbusd', 'busrtd'):
                print(f'round {round_no}/{args.rounds}: {kind} ...', file=sys.stderr, flush=True)
                run = run_once(args, kind, socket, workdir, broker_workers)
                results[kind].append(run)
                broker_workers = run[3]
    print(f'busrt CLI benchmark -w {args.workers} --payload-size {args.payload} '
          f'-i {args.iters}, {args.rounds} rounds (A B), medians, both brokers with '
          f'{broker_workers} worker(s)' + ('' if args.broker_workers else
                                           ' (elbusd at its defaults)'))
    print('cpu b/c: CPU seconds of the broker / of the client in the stage; client: how busy '
          "the client's busiest thread was (near 100%: bound by the client)")
    header = (f'{"stage":<25}{"busrtd it/s":>13}{"elbusd it/s":>13}{"ratio":>7}'
              f'{"busrtd cpu b/c":>17}{"client":>8}{"elbusd cpu b/c":>17}{"client":>8}')
    print(header)
    print('-' * len(header))
    for stage in STAGES:
        med, cpus, load = {}, {}, {}
        for kind, runs in results.items():
            med[kind] = statistics.median(r[0][stage][0] for r in runs)
            cpus[kind] = (statistics.median(r[1].get(stage, (0, 0))[0] for r in runs),
                          statistics.median(r[1].get(stage, (0, 0))[1] for r in runs))
            load[kind] = statistics.median(r[2].get(stage, 0.0) for r in runs)
        ratio = med['elbusd'] / med['busrtd'] if med['busrtd'] else float('nan')
        print(f'{stage:<25}{med["busrtd"]:>13,.0f}{med["elbusd"]:>13,.0f}{ratio:>7.2f}'
              f'{cpus["busrtd"][0]:>9.2f} /{cpus["busrtd"][1]:>5.2f}{load["busrtd"]:>8.0%}'
              f'{cpus["elbusd"][0]:>9.2f} /{cpus["elbusd"][1]:>5.2f}{load["elbusd"]:>8.0%}'
              .replace(',', '_'))


if __name__ == '__main__':
    main()
