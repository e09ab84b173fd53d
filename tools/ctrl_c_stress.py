"""Interrupt the ordered runner many times at random moments and count the runs that hang.

A Ctrl-C raised at the wrong moment inside the runner's wait can leave a lock held and hang the
run for good; such a race shows once in tens or hundreds of interrupts, too rarely for a unit
test (tests/test_cli_batch.py holds a deterministic test of the same fault). Each trial starts a
run of many tiny tasks in a child process, sends it SIGINT after a random delay, and counts it
as hung when it has not exited 10 s later.

    python tools/ctrl_c_stress.py --trials 100 --jobs 1
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = textwrap.dedent(
    """
    import functools, sys, time
    from kmeans_compress._batch import run_ordered

    def task(i):
        time.sleep(0.0005)
        return i

    if __name__ == "__main__":
        tasks = [(str(i), functools.partial(task, i)) for i in range(200_000)]
        print("go", flush=True)
        try:
            run_ordered(tasks, jobs=int(sys.argv[1]))
        except KeyboardInterrupt:
            sys.exit(130)
    """
)


def trial(jobs: int, rng: random.Random) -> str:
    """One interrupted run: "ok" (exit 130, no traceback), "hung", or what went wrong."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # under way
    try:
        proc.communicate(timeout=rng.uniform(0.05, 0.3))
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "hung"
    if proc.returncode != 130 or "Traceback" in err:
        return f"exit {proc.returncode}: {err.strip().splitlines()[-1:] or ''}"
    return "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100, help="interrupted runs (default 100)")
    parser.add_argument("--jobs", type=int, default=1, help="1: the runner's thread; 2 or more: worker processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the delays")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results = [trial(args.jobs, rng) for _ in range(args.trials)]
    hung = results.count("hung")
    other = [r for r in results if r not in ("ok", "hung")]
    print(f"jobs={args.jobs}: {hung} of {args.trials} interrupted runs hung; {len(other)} ended otherwise")
    for line in other:
        print(" ", line)
    return 1 if hung or other else 0


if __name__ == "__main__":
    sys.exit(main())
