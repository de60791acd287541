"""End-to-end cost as the data grows: wall time and peak RSS per step.

    python benchmarks/scale.py [--rows 10000 100000 1000000] [--processing-instances 1 4]
                               [--training-instances 1] [--floor-rows 10000000]

For each size, one `churn run` per ProcessingInstanceCount (definition memoised, nothing
cached; the table generated a million rows at a time and written as --files CSV objects, which
the shard steps' instances share out), one single-process run of the same scripts
(benchmarks/inprocess.py) and the physical floor (benchmarks/floor.py: the work written
directly with pyarrow and numpy), with the ratio of `churn run`, less its wait for the warm
parent's imports, to that floor. The single process and the floor hold the whole table, so
sizes above --floor-rows run `churn run` alone. Prints per step:
seconds in the local run, seconds of the same script in the single process, their difference
(the local runner's cost for that step: copying inputs and outputs through the store, forking,
config files), and the job's peak RSS (the highest of its instances'), then each job of a step
divided into several. The first job also waits
for the warm parent to finish its imports (shown in brackets, not counted in the step's
seconds): that is the import cost the single process pays up front. Peak RSS is measured on the
forked job process and includes the pages it shares with the warm parent (about 190 MB of
imported libraries).
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from common import churn_run, generate, in_process, machine, physical_floor

# The single process runs each script once, unsharded; the pipeline runs validation, the
# baseline and evaluation as a shard job and its merge, preprocessing as a shard job, its merge
# and the job that applies it, all counted against that one script.
STEPS = {
    "ValidateData": ("ValidateShards", "ValidateData"),
    "BaselineData": ("BaselineShards", "BaselineData"),
    "PreprocessData": ("PreprocessShards", "PreprocessData", "PreprocessApply"),
    "TrainModel": ("TrainModel",),
    "EvaluateModel": ("EvaluateShards", "EvaluateModel"),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[10000, 100000, 1000000])
    p.add_argument(
        "--processing-instances",
        type=int,
        nargs="+",
        default=[1],
        help="ProcessingInstanceCount of each run at each size (default: 1)",
    )
    p.add_argument(
        "--files",
        type=int,
        default=8,
        help="CSV objects the table is written as for the pipeline, which deals them to the "
        "shard steps' instances (default: 8)",
    )
    p.add_argument(
        "--training-instances",
        type=int,
        default=1,
        help="TrainingInstanceCount of every run (default: 1)",
    )
    p.add_argument(
        "--floor-rows",
        type=int,
        default=10000000,
        help="the largest size measured in a single process and on the physical floor, which "
        "hold the whole table in memory (default: 10000000)",
    )
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churn-scale-"))
    print("machine: %s" % machine())
    try:
        memo_home = work / "memo"
        churn_run(memo_home, generate(1000, work))  # memoises the definition (user cache)
        for rows in args.rows:
            data = generate(rows, work)
            table = split_table(data, work / ("parts-%d" % rows), args.files)
            if rows > args.floor_rows:
                data.unlink()  # the parts hold it
                print("\n%d rows in %d files (no single process or floor above %d rows)"
                      % (rows, args.files, args.floor_rows))  # fmt: skip
                floor = physical = None
            else:
                floor, physical = floors(data, work, rows, args.files)
            for instances in args.processing_instances:
                home = work / ("h%d-%d" % (rows, instances))
                counts = ["ProcessingInstanceCount=%d" % instances,
                          "TrainingInstanceCount=%d" % args.training_instances]  # fmt: skip
                wall, result = churn_run(home, table, *[a for c in counts for a in ("--param", c)])
                report(home, result, wall, instances, floor, physical)
                shutil.rmtree(home, ignore_errors=True)  # a big run's splits take disk
            shutil.rmtree(table, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def floors(data, work, rows, files):
    """The single process's and the physical floor's measures of the table, printed."""
    floor_total, floor = in_process(data, work / "inprocess")
    physical = physical_floor(data, work / "floor")
    print(
        "\n%d rows in %d files: single process %.1f s (%.1f s of it imports); physical "
        "floor %.2f s (%s; +%.1f s imports)"
        % (
            rows,
            files,
            floor_total,
            floor["import_seconds"],
            physical["seconds"],
            ", ".join("%s %.2f" % item for item in physical["phases"].items()),
            physical["import_seconds"],
        )
    )
    return floor, physical


def split_table(data, folder, files):
    """The CSV as `files` objects of consecutive rows, each with the header, read a line at
    a time (a table of any size)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(data, encoding="utf-8") as f:
        header = f.readline()
        rows = sum(1 for _ in f)
    with open(data, encoding="utf-8") as f:
        f.readline()
        for k in range(files):
            with open(folder / ("part-%02d.csv" % k), "w", encoding="utf-8") as part:
                part.write(header)
                for _ in range(rows * (k + 1) // files - rows * k // files):
                    part.write(f.readline())
    return folder


def report(home, result, wall, instances, floor, physical):
    """Per step: seconds locally and in the single process, their difference, peak RSS."""
    record = json.loads(
        (home / "executions" / result["execution_id"] / "execution.json").read_text()
    )
    print(
        "  ProcessingInstanceCount=%d: churn run %.1f s; test AUC %.4f"
        % (instances, wall, result["metrics"]["auc"])
    )
    print(
        "  %-46s %9s %9s %9s %12s %s"
        % ("step", "local s", "floor s", "overhead", "peak RSS MB", "(waited for imports)")
    )
    by_name = {step["StepName"]: step for step in record["Steps"]}
    for name, jobs in STEPS.items():
        steps = [by_name[job] for job in jobs]
        seconds = sum(step["EndTime"] - step["StartTime"] for step in steps)
        wait = sum(step.get("JobParentWaitSeconds", 0.0) for step in steps)
        rss = [u["max_rss_mb"] for step in steps for u in step.get("Resources", {}).values()]
        base = floor["steps"][name] if floor else float("nan")
        print(
            "  %-46s %9.2f %9.2f %+9.2f %12.0f %s"
            % (
                "+".join(jobs) if len(jobs) > 1 else name,
                seconds - wait,
                base,
                seconds - wait - base,
                max(rss) if rss else float("nan"),
                "(+%.2f s)" % wait if wait else "",
            )
        )
        if len(jobs) > 1:
            print("      " + "; ".join(job_figures(step) for step in steps))
    waited = sum(step.get("JobParentWaitSeconds", 0.0) for step in record["Steps"])
    print(
        "  churn run less its %.1f s wait for imports: %.1f s%s"
        % (
            waited,
            wall - waited,
            ", %.1fx the physical floor" % ((wall - waited) / physical["seconds"])
            if physical
            else "",
        )
    )


def job_figures(step):
    """One job's seconds (less its wait for imports) and its instances' largest peak RSS."""
    rss = [u["max_rss_mb"] for u in step.get("Resources", {}).values()]
    return "%s %.2f s, %s MB" % (
        step["StepName"],
        step["EndTime"] - step["StartTime"] - step.get("JobParentWaitSeconds", 0.0),
        "%.0f" % max(rss) if rss else "?",
    )


if __name__ == "__main__":
    main()
