"""How much `churn run` costs over doing the same work in one Python process.

    python benchmarks/pipeline_overhead.py [--runs 3] [--rows 10000 100000]

For each size: the median wall time of `churn run` (definition already memoised, no cache
hits: a fresh home each run), the median of the single-process floor (benchmarks/inprocess.py:
the same scripts, one import of each library), and their ratio. Then the cold first run on
10k rows (empty home: the definition is built, the SDK imported) and a rerun with nothing
changed (every job step a cache hit). Goals (issue 4): ratio <= 1.5 at 100k rows; cold 10k run
<= 10 s; rerun < 3 s.
"""

import argparse
import shutil
import tempfile
from pathlib import Path

from common import churn_run, generate, in_process, machine, median


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rows", type=int, nargs="+", default=[10000, 100000])
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churn-bench-"))
    print("machine: %s" % machine())
    try:
        memo_home = work / "memo"
        # Builds the definition into the user's cache, where every later home finds it.
        churn_run(memo_home, generate(1000, work))
        print("%8s %14s %14s %7s" % ("rows", "churn run (s)", "one process (s)", "ratio"))
        for rows in args.rows:
            data = generate(rows, work)
            local, floor = [], []
            for i in range(args.runs):
                home = work / ("h%d-%d" % (rows, i))
                seconds, result = churn_run(home, data)
                assert not any(s["cache_hit"] for s in result["steps"])
                local.append(seconds)
                floor.append(in_process(data, work / "inprocess")[0])
            print(
                "%8d %14.2f %14.2f %7.2f"
                % (rows, median(local), median(floor), median(local) / median(floor))
            )
        data = generate(10000, work)
        cold, rerun = [], []
        for i in range(args.runs):
            home = work / ("cold%d" % i)
            cold.append(churn_run(home, data)[0])
            seconds, result = churn_run(home, data)
            assert all(
                s["cache_hit"] for s in result["steps"] if s["type"] in ("Processing", "Training")
            )
            rerun.append(seconds)
        print(
            "cold churn run, 10k rows (definition built): median %.2f s (runs: %s)"
            % (median(cold), ", ".join("%.2f" % s for s in cold))
        )
        print(
            "rerun with nothing changed: median %.2f s (runs: %s)"
            % (median(rerun), ", ".join("%.2f" % s for s in rerun))
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
