"""The physical floor: the pipeline's work written directly with pyarrow and numpy, no project code.

    python benchmarks/floor.py --data CSV --workdir DIR

What issue 14 measures `churn run` against: read the seed-schema table once with typed columns,
stratified split (seeded), min-max scaling fitted on the train split, the three splits written
as CSV, 100 rounds of hist training from a float32 matrix with the validation split scored each
round, and the test split's AUC. No validation, no baseline, no store, no second process: what
the machine needs to turn this table into a model. Prints one JSON object: seconds per phase
and in all, imports excluded (given apart).
"""

import argparse
import json
import os
import time

STARTED = time.time()
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

FEATURES = ("age", "tenure", "balance", "num_products", "is_active")
TARGET = "churn"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    imported = time.time()
    phases = {}

    def phase(name, since):
        now = time.time()
        phases[name] = round(now - since, 3)
        return now

    t = time.time()
    types = {name: pa.float64() for name in FEATURES}
    types[TARGET] = pa.int8()
    table = pacsv.read_csv(
        args.data,
        convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(FEATURES) + [TARGET]
        ),
    )
    x = np.column_stack([table[name].to_numpy() for name in FEATURES])
    y = table[TARGET].to_numpy()
    t = phase("read", t)

    rng = np.random.default_rng(42)
    assignment = np.zeros(len(y), dtype=np.int8)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        n_test, n_val = round(len(idx) * 0.15), round(len(idx) * 0.15)
        assignment[idx[:n_test]] = 2
        assignment[idx[n_test : n_test + n_val]] = 1
    parts = [np.flatnonzero(assignment == i) for i in range(3)]
    low, high = x[parts[0]].min(axis=0), x[parts[0]].max(axis=0)
    scaled = ((x - low) / np.where(high > low, high - low, 1.0)).astype(np.float32)
    t = phase("split and scale", t)

    os.makedirs(args.workdir, exist_ok=True)
    for name, idx in zip(("train", "validation", "test"), parts):
        columns = [pa.array(y[idx])] + [pa.array(scaled[idx, j]) for j in range(len(FEATURES))]
        out = pa.table(columns, names=["label"] + list(FEATURES))
        pacsv.write_csv(
            out,
            os.path.join(args.workdir, name + ".csv"),
            pacsv.WriteOptions(include_header=False),
        )
    t = phase("write CSV", t)

    train = xgb.QuantileDMatrix(scaled[parts[0]], label=y[parts[0]])
    validation = xgb.DMatrix(scaled[parts[1]], label=y[parts[1]])
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 5, "eta": 0.2,
              "eval_metric": ["auc", "logloss"]}  # fmt: skip
    booster = xgb.train(params, train, 100, evals=[(validation, "validation")], verbose_eval=False)
    t = phase("train", t)

    auc = roc_auc_score(y[parts[2]], booster.predict(xgb.DMatrix(scaled[parts[2]])))
    phase("evaluate", t)
    print(
        json.dumps(
            {
                "import_seconds": round(imported - STARTED, 3),
                "seconds": round(sum(phases.values()), 3),
                "phases": phases,
                "test_auc": round(float(auc), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
