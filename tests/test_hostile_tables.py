"""Bad tables through `churn run`, as a careless or hostile user would give them: a non-zero
exit, one line naming the column, no traceback, nothing registered."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

HEADER = "customer_id,age,tenure,balance,num_products,is_active,churn"


def good_rows(n=400):
    return [
        "C%05d,%d,%d,%d.5,%d,%d,%d"
        % (i, 20 + i % 50, i % 11, 1000 * (i % 97), 1 + i % 3, i % 2, int(i % 5 == 0))
        for i in range(n)
    ]


def churn(home, *args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli"] + list(args),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, CHURN_HOME=str(home)),
    )


def assert_refused(home, proc, *fragments):
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr
    assert churn(home, "models", "list").stdout.startswith("no model versions")


@pytest.mark.parametrize(
    "value",
    ["1e309", "-1e309", "9" * 400],
)
def test_numbers_that_overflow_a_float_are_refused_by_validation(tmp_path, value):
    """1e309 or a 400-digit integer passed validation, became inf in preprocessing, min-max
    scaling mapped the whole column to 0, and the model was registered."""
    rows = good_rows()
    for i in (3, 7, 11):
        fields = rows[i].split(",")
        fields[3] = value
        rows[i] = ",".join(fields)
    table = tmp_path / "overflow.csv"
    table.write_text("\n".join([HEADER] + rows) + "\n")
    proc = churn(tmp_path / "home", "run", "--data", str(table))
    assert_refused(tmp_path / "home", proc, "balance: 3 rows too large for a 64-bit float")
