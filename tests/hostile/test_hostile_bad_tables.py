"""The 52 bad tables of test_hostile_tables through `churn run`, in a file of their own so that
`--dist loadfile` can run them beside the rest of that file on another worker: a non-zero exit,
the first line of stderr naming the column (or the file and line), no traceback, nothing
registered."""

import gzip
import json

import pytest
from test_hostile_tables import HEADER, good_rows, good_table, with_field

from conftest import churn_cli as churn

# (name, file bytes, what the error's first line must hold, {table} standing for the file's
# path): 52 tables a careless or hostile user gives, with the overflow and extra-column tables
# of test_hostile_tables. Those whose header or rows the CLI can judge are refused before anything runs (the
# user's file and line named); the rest by the pipeline's own steps.
BAD_TABLES = [
    ("empty", b"", "is empty"),
    ("header only", (HEADER + "\n").encode(), "has a header but no rows"),
    ("header and blank lines", (HEADER + "\n\n\n").encode(), "has a header but no rows"),
    ("no target", good_table().replace(",churn", "", 1).encode(), "lacks columns churn"),
    ("no feature", good_table().replace(",balance", ",bal", 1).encode(), "lacks columns balance"),
    ("no id", good_table().replace("customer_id", "id", 1).encode(), "lacks columns customer_id"),
    ("semicolons", good_table().replace(",", ";").encode(), "lacks columns"),
    ("tabs", good_table().replace(",", "\t").encode(), "lacks columns"),
    (
        "header twice",
        good_table().replace(",churn", ",age", 1).encode(),
        "names column 'age' twice",
    ),
    (
        "utf-16",
        good_table().encode("utf-16"),
        "{table} is not a readable CSV file: it is UTF-16 text: save it as UTF-8 CSV",
    ),
    (
        "utf-16 without a byte-order mark",
        good_table().encode("utf-16-le"),
        "is not a readable CSV file: it looks like UTF-16 text (every other byte is 0): save it "
        "as UTF-8 CSV",
    ),
    (
        "latin-1 header",
        ("âge" + HEADER[3:] + "\n").encode("latin-1") + b"x\n",
        "{table} is not a readable CSV file: line 1 is not UTF-8 (byte 0xe2: Latin-1 or "
        "Windows-1252 text?): save it as UTF-8 CSV",
    ),
    (
        "latin-1 row",
        (good_table() + "Cé9999,40,1,1.5,1,1,0\n").encode("latin-1"),
        "{table} is not a readable CSV file: line 402 is not UTF-8 (byte 0xe9",
    ),
    (
        "latin-1 at the end of a short file",
        "\n".join([HEADER] + good_rows(3) + ["C00009,40,1,1.5,1,1,0é\n"]).encode("latin-1"),
        "{table} is not a readable CSV file: line 5 is not UTF-8 (byte 0xe9",
    ),
    (
        "binary",
        bytes(range(256)) * 8,
        "is not a readable CSV file: it holds NUL bytes (a binary file, not text): save it as "
        "UTF-8 CSV",
    ),
    ("header in capitals", good_table().replace("age", "Age", 1).encode(), "lacks columns age"),
    ("open quote in header", ('"' + good_table()).encode(), "lacks columns"),
    (
        "age out of range",
        with_field("age", "150").encode(),
        "age: 3 rows outside [0, 120], e.g. 150 ({table} line 5)",
    ),
    ("age not whole", with_field("age", "3.5").encode(), "age: 3 rows with non-integer values"),
    (
        "balance text",
        with_field("balance", "lots").encode(),
        "balance: 3 rows with non-numeric values, e.g. 'lots' ({table} line 5)",
    ),
    ("balance inf", with_field("balance", "inf").encode(), "balance: 3 rows with non-numeric"),
    ("balance nan", with_field("balance", "nan").encode(), "balance: 3 rows with non-numeric"),
    ("balance 1_000", with_field("balance", "1_000").encode(), "balance: 3 rows with non-numeric"),
    ("balance -1e309", with_field("balance", "-1e309").encode(), "balance: 3 rows too large"),
    ("balance negative", with_field("balance", "-5").encode(), "balance: 3 rows below 0"),
    ("products zero", with_field("num_products", "0").encode(), "num_products: 3 rows outside"),
    ("active two", with_field("is_active", "2").encode(), "is_active: 3 rows outside [0, 1]"),
    (
        "age missing",
        with_field("age", "").encode(),
        "age: 3 rows missing; the schema requires every value of age (a feature without "
        '"completeness" must be complete): to allow gaps, give it "completeness", e.g. 0.99',
    ),
    ("age arabic digits", with_field("age", "٤٠").encode(), "age: 3 rows with non-integer"),
    (
        "balance all missing",
        with_field("balance", "", rows=range(400)).encode(),
        "balance: 400 rows missing; the schema requires every value of balance",
    ),
    ("target yes", with_field("churn", "yes").encode(), "churn: 3 rows"),
    ("target missing", with_field("churn", "").encode(), "churn: 3 rows missing"),
    (
        "ids repeated",
        with_field("customer_id", "C00001").encode(),
        "customer_id: 4 rows have a duplicated id",
    ),
    ("ids missing", with_field("customer_id", "").encode(), "customer_id: 3 rows missing"),
    (
        "row too long",
        good_table().replace("\nC00005,", "\nC00005,1,", 1).encode(),
        "{table} line 7 has 8 fields, the header has 7; fix the row (a comma inside a value "
        "needs quotes)",
    ),
    (
        "row too long, CR line ends",
        good_table().replace("\n", "\r").replace("\rC00005,", "\rC00005,1,", 1).encode(),
        "{table} line 7 has 8 fields, the header has 7",
    ),
    (
        "row too long after quoted line breaks",
        with_field("balance", '"12\n34"').replace("\nC00009,", "\nC00009,1,", 1).encode(),
        "{table} line 13 has 8 fields, the header has 7",
    ),
    (
        "row too short",
        (good_table() + "C99999,40\n").encode(),
        "{table} line 402 has 2 fields, the header has 7; fix the row (every column needs a "
        "field, empty where the value is missing)",
    ),
    (
        "unclosed quote",
        good_table().replace("\nC00005,", '\n"C00005,', 1).encode(),
        "{table} line 7 opens a quote that is never closed",
    ),
    (
        "unclosed quote on the last line",
        (good_table() + 'C99999,40,1,1.5,1,1,"1\n').encode(),
        "{table} line 402 opens a quote that is never closed",
    ),
    ("only churners", with_field("churn", "1", rows=range(400)).encode(), "no retained rows"),
    ("three rows", "\n".join([HEADER] + good_rows(3)).encode(), "too few to split"),
    (
        "quoted newline",
        with_field("balance", '"12\n34"').encode(),
        "balance: 3 rows with non-numeric",
    ),
    (
        "bom and junk",
        b"\xef\xbb\xbf\xff\xfe" + good_table().encode(),
        "is not a readable CSV file: line 1 is not UTF-8 (byte 0xff",
    ),
    (
        "gzip",
        gzip.compress(good_table().encode()),
        "{table} is not a readable CSV file: it is gzip-compressed: decompress it (gunzip), or "
        "open it and save it as UTF-8 CSV",
    ),
    (
        "zip (a spreadsheet)",
        b"PK\x03\x04" + bytes(200),
        "{table} is not a readable CSV file: it is a ZIP archive (an Excel .xlsx workbook is "
        "one): open the sheet and save it as UTF-8 CSV",
    ),
    (
        "an old Excel workbook",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200),
        "is not a readable CSV file: it is an Excel 97-2003 workbook (.xls): open the sheet and "
        "save it as UTF-8 CSV",
    ),
    ("json", json.dumps([{"age": 40}]).encode(), "lacks columns"),
    (
        "header with spaces",
        good_table().replace(",age,", ", age ,", 1).encode(),
        "lacks columns age",
    ),
    (
        "header with an empty name",
        good_table().replace(",tenure", ",", 1).encode(),
        "lacks columns tenure",
    ),
    ("whitespace only", b"   \n\t\n", "lacks columns"),
    ("one column", b"customer_id\nC1\nC2\n", "lacks columns age"),
]


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-home")


@pytest.mark.parametrize("name, data, fragment", BAD_TABLES, ids=[t[0] for t in BAD_TABLES])
def test_a_bad_table_is_refused_naming_its_column(shared_home, tmp_path, name, data, fragment):
    import sqlite3

    table = tmp_path / "customers.csv"
    table.write_bytes(data)
    proc = churn(shared_home, "run", "--data", str(table))
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert fragment.replace("{table}", str(table)) in first, first
    # the user's file, never a job's container path or the copy staged under the home
    assert "/opt/ml/" not in first and str(shared_home) not in first, first
    if (shared_home / "registry.db").exists():
        with sqlite3.connect(str(shared_home / "registry.db")) as db:
            assert db.execute("SELECT COUNT(*) FROM model_packages").fetchone()[0] == 0
