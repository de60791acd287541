"""Synthetic customers for the seed schema, with a churn label that depends on the features.

The seed template draws labels at random, so every model scores AUC 0.5 and nothing downstream
can be trusted. Here churn follows a logistic model with effects of the kind the public bank
churn data shows (older, inactive, single- or many-product customers with a balance leave more),
plus label noise, calibrated to a 20% churn rate. Same rows and seed, same file.

A file of more than CHUNK_ROWS rows is written a chunk at a time, chunk k drawn from seed + k
with ids that continue the previous chunk's, so a table of any size is generated in bounded
memory (a benchmark's hundred million rows is generated, not stored).
"""

from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from processing.churn_job import write_atomic

COLUMNS = ["customer_id", "age", "tenure", "balance", "num_products", "is_active", "churn"]
CHURN_RATE = 0.20
CHUNK_ROWS = 1000000


def generate(rows: int, seed: int = 0, first_id: int = 1) -> pd.DataFrame:
    """`rows` customers drawn from `seed`, their ids numbered from `first_id`."""
    if rows < 1:
        raise ValueError("--rows must be at least 1")
    rng = np.random.default_rng(seed)
    age = np.clip(np.round(rng.normal(40, 11, rows)), 18, 92).astype(np.int64)
    tenure = rng.integers(0, 11, rows)
    has_balance = rng.random(rows) > 0.35
    balance = np.where(has_balance, np.clip(rng.normal(110000, 35000, rows), 1000, 260000), 0.0)
    balance = np.round(balance, 2)
    num_products = rng.choice([1, 2, 3, 4], size=rows, p=[0.50, 0.44, 0.05, 0.01])
    is_active = (rng.random(rows) < 0.52).astype(np.int64)

    product_effect = np.array([0.0, 0.45, -1.2, 2.2, 3.5])[num_products]
    logit = (
        0.075 * (age - 40)
        - 0.9 * (age > 62)  # retirees settle down again
        - 0.04 * (tenure - 5)
        + 0.5 * has_balance
        + product_effect
        - 1.0 * is_active
        + 0.6 * is_active * (age > 55)  # interaction a linear model misses
        + rng.logistic(0, 0.6, rows)
    )  # churn is never fully predictable
    # Shift the intercept so that the expected churn rate is CHURN_RATE.
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) > CHURN_RATE:
            hi = mid
        else:
            lo = mid
    churn = (rng.random(rows) < 1 / (1 + np.exp(-(logit + lo)))).astype(np.int64)

    return pd.DataFrame(
        {
            "customer_id": ["C%08d" % i for i in range(first_id, first_id + rows)],
            "age": age,
            "tenure": tenure,
            "balance": balance,
            "num_products": num_products,
            "is_active": is_active,
            "churn": churn,
        },
        columns=COLUMNS,
    )


def write_csv(rows: int, seed: int, path: Union[str, Path], chunk_rows: int = CHUNK_ROWS) -> float:
    """Write the table to `path` (whole or not at all), `chunk_rows` rows generated at a time;
    returns its churn rate."""
    if rows < 1:
        raise ValueError("--rows must be at least 1")
    churned = 0

    def write(tmp: str) -> None:
        nonlocal churned
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            for k, first in enumerate(range(0, rows, chunk_rows)):
                frame = generate(min(chunk_rows, rows - first), seed + k, first + 1)
                frame.to_csv(f, index=False, header=k == 0)
                churned += int(frame["churn"].sum())

    write_atomic(path, write)
    return churned / rows
