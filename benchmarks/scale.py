"""End-to-end cost as the data grows: wall time and peak RSS per step.

    python benchmarks/scale.py [--rows 10000 100000 1000000] [--processing-instances 1 4]

For each size, one `churn run` per ProcessingInstanceCount (definition memoised, nothing
cached; the table written as --files CSV objects, which the shard steps' instances share out),
one single-process run of the same scripts (benchmarks/inprocess.py) and the physical floor
(benchmarks/floor.py: the work written directly with pyarrow and numpy), with the ratio of
`churn run`, less its wait for the warm parent's imports, to that floor. Prints per step:
seconds in the local run, seconds of the same script in the single process, their difference
(the local runner's cost for that step: copying inputs and outputs through the store, forking,
config files), and the job's peak RSS (the highest of its instances'). The first job also waits
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
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churn-scale-"))
    print("machine: %s" % machine())
    try:
        memo_home = work / "memo"
        churn_run(memo_home, generate(1000, work))  # memoises the definition (user cache)
        for rows in args.rows:
            data = generate(rows, work)
            table = split_table(data, work / ("parts-%d" % rows), args.files)
            floor_total, floor = in_process(data, work / "inprocess")
            physical = physical_floor(data, work / "floor")
            print(
                "\n%d rows in %d files: single process %.1f s (%.1f s of it imports); physical "
                "floor %.2f s (%s; +%.1f s imports)"
                % (
                    rows,
                    args.files,
                    floor_total,
                    floor["import_seconds"],
                    physical["seconds"],
                    ", ".join("%s %.2f" % item for item in physical["phases"].items()),
                    physical["import_seconds"],
                )
            )
            for instances in args.processing_instances:
                home = work / ("h%d-%d" % (rows, instances))
                count = "ProcessingInstanceCount=%d" % instances
                wall, result = churn_run(home, table, "--param", count)
                report(home, result, wall, instances, floor, physical)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def split_table(data, folder, files):
    """The CSV as `files` objects of consecutive rows, each with the header."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(data, encoding="utf-8") as f:
        header = f.readline()
        lines = f.readlines()
    for k in range(files):
        part = lines[len(lines) * k // files : len(lines) * (k + 1) // files]
        (folder / ("part-%02d.csv" % k)).write_text(header + "".join(part), encoding="utf-8")
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
        base = floor["steps"][name]
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
    waited = sum(step.get("JobParentWaitSeconds", 0.0) for step in record["Steps"])
    print(
        "  churn run less its %.1f s wait for imports: %.1f s, %.1fx the physical floor"
        % (waited, wall - waited, (wall - waited) / physical["seconds"])
    )


if __name__ == "__main__":
    main()
