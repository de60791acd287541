"""Model quality bought by the template's TuningStep: the churn pipeline run on a public table
with the seed hyperparameters, then with `--tune TRIALS` (TuneModel in place of TrainModel,
pipelines/churn/tuning.py), the test AUC of each and the difference, the baseline run in the
same command.

    python benchmarks/tuning.py [--trials 20] [--strategy Bayesian] [--tables bank telco]

Needs ../shared/data (see its README). Prints a table: test AUC with the seed hyperparameters,
with the best trial's, the gain, the trials run and the tuned run's time; then the best trial's
hyperparameters.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

TABLES = {
    "bank": "bank_churn_modelling.csv",
    "telco": "telco_customer_churn.csv",
    "bigml": "churn_bigml_80.csv",
}


def churn_run(home: Path, table: str, *extra: str) -> dict:
    data = ROOT.parent / "shared" / "data" / TABLES[table]
    command = [sys.executable, "-m", "pipelines.cli", "run", "--data", str(data), "--schema",
               table, "--home", str(home), "--json", *extra]  # fmt: skip
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(ROOT))
    if done.returncode not in (0, 1):
        sys.exit("churn run failed: %s" % done.stderr[-2000:])
    result = json.loads(done.stdout)
    result["wall_seconds"] = time.time() - started
    return result


def tuned_trials(home: Path) -> tuple[int, dict]:
    """The tuning step's trial count and its best trial's hyperparameters, from the record."""
    sys.path.insert(0, str(ROOT))
    from pipelines.workspace import Workspace

    with Workspace(home) as ws:
        (record,) = ws.sagemaker.executions.list()
        folder = ws.sagemaker.executions.folder(record["PipelineExecutionId"])
        properties = json.loads((folder / "TuneModel.step.json").read_text())["Properties"]
    counters = properties["TrainingJobStatusCounters"]
    return sum(counters.values()), properties["BestTrainingJob"]["TunedHyperParameters"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--strategy", default="Bayesian")
    parser.add_argument("--tables", nargs="+", default=["bank", "telco"])
    args = parser.parse_args()
    print(machine())
    print("| table | seed test AUC | tuned test AUC | gain | trials | tuned run |")
    print("|---|---|---|---|---|---|")
    best = {}
    for table in args.tables:
        with tempfile.TemporaryDirectory() as folder:
            seed = churn_run(Path(folder) / "seed", table)
            tuned = churn_run(Path(folder) / "tuned", table, "--tune", str(args.trials),
                              "--tune-strategy", args.strategy)  # fmt: skip
            trials, best[table] = tuned_trials(Path(folder) / "tuned")
        a, b = seed["metrics"]["auc"], tuned["metrics"]["auc"]
        print("| %s | %.4f | %.4f | %+.4f | %d | %.0f s |"
              % (table, a, b, b - a, trials, tuned["wall_seconds"]))  # fmt: skip
    for table, hyperparameters in best.items():
        print("%s best trial: %s" % (table, json.dumps(hyperparameters, sort_keys=True)))


if __name__ == "__main__":
    main()
