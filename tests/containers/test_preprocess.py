"""preprocess.py as a job: real CSVs in, XGBoost CSVs and the fitted transform out."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import BANK, BIGML, ROOT, TELCO, needs_shared_data, run

sys.path.insert(0, str(ROOT / "processing"))
from preprocess import (  # noqa: E402
    CSV_BLOCK_ROWS,
    as_table,
    hash_split,
    labels_from_target,
    read_table,
    split_hashes,
    write_xgboost_csv,
)

from churn_checks import OVERLAP_TUPLES, data_checks, merge, summarize, table_categories  # noqa: E402
from churn_recipe import count_values, default_recipe, fit, fit_counts  # noqa: E402
from churn_schema import load_schema  # noqa: E402


def read_split(out, name):
    return pd.read_csv(out / name / (name + ".csv"), header=None)


def splits_of(raw, schema="seed", seed=42):
    """The rows of each split of `raw` (the seed table's target is 0/1): by the job's rule."""
    labels = raw[load_schema(schema).target].to_numpy().astype("int8")
    return hash_split(split_hashes(raw, load_schema(schema), seed), labels, 0.15, 0.15)


def split_counts(stdout):
    """{split: rows} from the job's closing line ("3000 rows -> train 2093, ...")."""
    listed = stdout.split(" rows -> ")[1].split(";")[0].split(", ")
    return {name: int(rows) for name, rows in (item.split() for item in listed)}


def test_outputs_follow_the_xgboost_csv_convention(seed_csv, tmp_path):
    out = tmp_path / "out"
    proc = run(
        "processing/preprocess.py",
        "--input",
        seed_csv,
        "--schema",
        "seed",
        "--output-dir",
        out,
        check=0,
    )
    counts = split_counts(proc.stdout)
    assert sum(counts.values()) == 3000
    for name, fraction in (("train", 0.7), ("validation", 0.15), ("test", 0.15)):  # 4 sd
        assert abs(counts[name] - 3000 * fraction) < 4 * (3000 * fraction * (1 - fraction)) ** 0.5
    spec = json.loads((out / "preprocessing" / "preprocessing.json").read_text())
    assert spec["feature_names"] == ["age", "tenure", "balance", "num_products", "is_active"]
    assert spec["input_columns"] == spec["feature_names"]
    raw = pd.read_csv(seed_csv)
    rates = []
    for name in ("train", "validation", "test"):
        frame = read_split(out, name)
        assert frame.shape[1] == 1 + len(spec["feature_names"])  # label first, no header
        assert set(frame[0].unique()) == {0, 1}
        assert len(frame) == counts[name]
        rates.append((frame[0].mean(), len(frame)))
    # Each row's split is drawn from its id's hash: every split has the table's churn rate in
    # expectation, within four binomial standard errors (ADR 0017).
    p = raw.churn.mean()
    for rate, rows in rates:
        assert abs(rate - p) < 4 * (p * (1 - p) / rows) ** 0.5
    assert not (out / "train" / "train.csv.tmp").exists()


def test_statistics_are_fitted_on_the_train_split_only(seed_csv, tmp_path):
    out = tmp_path / "out"
    run("processing/preprocess.py", "--input", seed_csv, "--output-dir", out, check=0)
    spec = json.loads((out / "preprocessing" / "preprocessing.json").read_text())
    raw = pd.read_csv(seed_csv)
    train_rows = raw.iloc[splits_of(raw)["train"]]
    fitted = {
        (s["Action"]["Operation"], s["Action"]["Parameters"]["sourceColumn"]): s["Fitted"]
        for s in spec["recipe"]
    }
    assert fitted[("FILL_WITH_MEDIAN", "balance")]["value"] == train_rows.balance.median()
    assert fitted[("FILL_WITH_MEDIAN", "balance")]["value"] != raw.balance.median()
    scale = fitted[("NORMALIZATION", "balance")]
    assert (scale["min"], scale["max"]) == (train_rows.balance.min(), train_rows.balance.max())
    train = read_split(out, "train")
    assert train[3].min() == 0 and train[3].max() == 1  # balance column, min-max on train


def test_same_input_and_seed_give_identical_files(seed_csv, tmp_path):
    for name in ("a", "b"):
        run(
            "processing/preprocess.py",
            "--input",
            seed_csv,
            "--output-dir",
            tmp_path / name,
            check=0,
        )
    for part in ("train/train.csv", "test/test.csv", "preprocessing/preprocessing.json"):
        assert (tmp_path / "a" / part).read_bytes() == (tmp_path / "b" / part).read_bytes()
    run(
        "processing/preprocess.py",
        "--input",
        seed_csv,
        "--output-dir",
        tmp_path / "c",
        "--seed",
        "1",
        check=0,
    )
    assert (tmp_path / "c/train/train.csv").read_bytes() != (
        tmp_path / "a/train/train.csv"
    ).read_bytes()


def test_a_rows_split_follows_its_id_and_the_seed_alone(seed_csv, tmp_path):
    """No row's split depends on another row (ADR 0017), so dividing the table over instances
    splits it as one instance does: half the rows, shuffled, land where they did in the whole
    table; a customer's repeated rows share a split; a row without an id is placed by its
    whole row, not all such rows in one split."""
    raw = pd.read_csv(seed_csv)
    whole = {name: set(raw.customer_id.iloc[idx]) for name, idx in splits_of(raw).items()}
    half = raw.sample(frac=0.5, random_state=1)
    for name, idx in splits_of(half).items():
        assert set(half.customer_id.iloc[idx]) == whole[name] & set(half.customer_id)
    other_seed = {name: set(raw.customer_id.iloc[i]) for name, i in splits_of(raw, seed=1).items()}
    assert other_seed["test"] != whole["test"]
    blank = splits_of(raw.assign(customer_id=[""] * 1000 + list(raw.customer_id[1000:])))
    assert sum(idx[idx < 1000].size > 100 for idx in blank.values()) == 3  # spread, not piled

    twice = tmp_path / "twice.csv"
    pd.concat([raw, raw]).to_csv(twice, index=False)
    proc = run("processing/preprocess.py", "--input", twice, "--output-dir", tmp_path / "out",
               check=0)  # fmt: skip
    assert split_counts(proc.stdout)["test"] == 2 * len(whole["test"])
    spec = json.loads((tmp_path / "out/preprocessing/preprocessing.json").read_text())
    assert spec["data_checks"]["train_test_overlap"]["repeated"] == 0


@pytest.mark.parametrize("name", ["seed", "bank", "telco", "bigml"])
def test_the_fit_from_value_counts_over_any_division_is_the_fit_from_the_rows(name, seed_csv):
    """A divided PreprocessData fits the recipe from each column's value counts summed over
    the instances (ADR 0017): on the train split of each table, with its schema's recipe, the
    counts of 1, 3 or 7 shuffled parts fit the very numbers fit gives on the rows, to the
    bit (the seed table with a tenth of its balances and ages blank: the medians fill them
    before the scaling is fitted)."""
    path = {"seed": seed_csv, "bank": BANK, "telco": TELCO, "bigml": BIGML}[name]
    if not path.is_file():
        pytest.skip("../shared/data is not next to this checkout")
    schema = load_schema(name)
    frame = read_table(str(path), schema)
    if name == "seed":
        blank = np.random.default_rng(0).random(len(frame)) < 0.1
        frame.loc[blank, "balance"] = np.nan
        frame.loc[blank[::-1], "age"] = np.nan
    labels = labels_from_target(frame[schema.target], schema)
    train = frame.iloc[hash_split(split_hashes(frame, schema, 42), labels, 0.15, 0.15)["train"]]
    table = as_table(train.drop(columns=[schema.target]))
    steps = schema.recipe if schema.recipe is not None else default_recipe(schema)
    fitted = json.dumps(fit(table, steps)[0])
    for parts in (1, 3, 7):
        order = np.random.default_rng(parts).permutation(len(train))
        pieces = [[count_values(v[rows]) for rows in np.array_split(order, parts)]
                  for v in table.values()]  # fmt: skip
        counts = {
            column: (np.concatenate([u for u, _ in piece]), np.concatenate([c for _, c in piece]))
            for column, piece in zip(table, pieces)
        }
        assert json.dumps(fit_counts(list(table), counts, steps)) == fitted, parts


def test_the_data_checks_from_the_parts_counts_are_the_whole_tables(seed_csv):
    """Each instance of a divided PreprocessData summarises its rows in counts; the merged
    summaries give the data checks and categories one instance gives, to the bit: on the seed
    table with every customer twice under two ids (a leak the overlap check must see), with
    the overlap check exact and with it bounded to 500 distinct train rows, where it judges a
    hash-chosen sample of the test rows and estimates the same share of repeats."""
    schema = load_schema("seed")
    frame = read_table(str(seed_csv), schema)
    frame = pd.concat([frame, frame.assign(customer_id=frame.customer_id + "-2")])
    frame = frame.reset_index(drop=True)
    labels = labels_from_target(frame[schema.target], schema)
    splits = hash_split(split_hashes(frame, schema, 42), labels, 0.15, 0.15)
    features = frame.drop(columns=[schema.target])
    overlaps = []
    for compared in (OVERLAP_TUPLES, 500):
        whole = summarize(features, labels, splits, schema, compared)
        report = json.dumps(data_checks(whole, schema))
        order = np.random.default_rng(compared).permutation(len(frame))
        parts = []
        for rows in np.array_split(order, 3):
            kept = {name: np.flatnonzero(np.isin(rows, idx)) for name, idx in splits.items()}
            part = features.iloc[rows].reset_index(drop=True)
            parts.append(summarize(part, labels[rows], kept, schema, compared))
        merged = merge(parts, compared)
        assert json.dumps(data_checks(merged, schema)) == report
        assert table_categories(merged, schema) == table_categories(whole, schema)
        overlaps.append(json.loads(report)["train_test_overlap"])
    exact, sampled = overlaps
    assert exact["compared_test_rows"] == exact["test_rows"] == len(splits["test"])
    assert 0 < sampled["compared_test_rows"] < exact["test_rows"] / 3
    share = [o["repeated"] / o["distinctive_test_rows"] for o in overlaps]
    assert share[0] > 0.5 and abs(share[1] - share[0]) < 0.15, overlaps


def test_a_folder_of_shards_is_one_table(seed_csv, tmp_path):
    raw = pd.read_csv(seed_csv)
    shards = tmp_path / "shards"
    shards.mkdir()
    raw.iloc[:1000].to_csv(shards / "part-0.csv", index=False)
    raw.iloc[1000:].to_csv(shards / "part-1.csv", index=False)
    run("processing/preprocess.py", "--input", shards, "--output-dir", tmp_path / "a", check=0)
    run("processing/preprocess.py", "--input", seed_csv, "--output-dir", tmp_path / "b", check=0)
    assert (tmp_path / "a/test/test.csv").read_bytes() == (
        tmp_path / "b/test/test.csv"
    ).read_bytes()


def test_a_recipe_file_in_the_seed_spelling(seed_csv, tmp_path):
    recipe = [
        {"Action": {"Operation": "DELETE", "Parameters": {"sourceColumn": "customer_id"}}},
        {
            "Action": {
                "Operation": "CAST_COLUMN_TYPE",
                "Parameters": {"sourceColumn": "age", "columnType": "double"},
            }
        },
        {
            "Action": {
                "Operation": "NORMALIZE_COLUMN",
                "Parameters": {"sourceColumn": "age", "normalizeType": "MIN_MAX"},
            }
        },
        {"Action": {"Operation": "DELETE", "Parameters": {"sourceColumn": "balance"}}},
    ]
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    run(
        "processing/preprocess.py",
        "--input",
        seed_csv,
        "--recipe",
        path,
        "--output-dir",
        tmp_path / "out",
        check=0,
    )
    spec = json.loads((tmp_path / "out/preprocessing/preprocessing.json").read_text())
    assert spec["feature_names"] == ["age", "tenure", "num_products", "is_active"]
    assert [s["Action"]["Operation"] for s in spec["recipe"]][1:3] == [
        "CHANGE_DATA_TYPE",
        "NORMALIZATION",
    ]
    assert read_split(tmp_path / "out", "train")[1].max() == 1.0


@needs_shared_data
def test_telco_blank_total_charges_are_filled_by_the_recipe(tmp_path):
    run(
        "processing/preprocess.py",
        "--input",
        TELCO,
        "--schema",
        "telco",
        "--output-dir",
        tmp_path,
        check=0,
    )
    spec = json.loads((tmp_path / "preprocessing/preprocessing.json").read_text())
    assert "TotalCharges" in spec["feature_names"] and "Contract_Two year" in spec["feature_names"]
    for name in ("train", "validation", "test"):
        assert not read_split(tmp_path, name).isna().any().any()


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("customer_id,age,tenure,balance,num_products,is_active,churn\n", "header but no rows"),
        (
            "customer_id,age,tenure,balance,num_products,churn\nC1,40,5,100,2,1\n",
            "columns is_active are missing",
        ),
        (
            "customer_id,age,tenure,balance,num_products,is_active,churn\nC1,40,5,100,2,1,maybe\n",
            "target column 'churn' has 1 values outside",
        ),
    ],
)
def test_unusable_input_fails_with_one_clear_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    proc = run("processing/preprocess.py", "--input", path, "--output-dir", tmp_path / "out")
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "preprocessing").exists()


def test_the_csv_writer_writes_the_bytes_pandas_to_csv_did(tmp_path):
    """Faster than to_csv(float_format="%.9g"), which it replaced, and byte for byte the same
    (cached steps and trained models keep their meaning), NaN, infinities, -0 and subnormals
    included, across its blocks of rows."""
    import numpy as np

    rng = np.random.default_rng(7)
    rows = 2 * CSV_BLOCK_ROWS + 12345
    features = rng.standard_normal((rows, 3)) * 10.0 ** rng.integers(-40, 38, (rows, 3))
    features = features.astype(np.float32)
    special = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 3.4028235e38, 0.1, 1 / 3]
    features[: len(special), 0] = special
    labels = (rng.random(rows) < 0.2).astype(np.int64)
    write_xgboost_csv(tmp_path / "ours.csv", labels, features)

    frame = pd.DataFrame(np.column_stack([labels.astype(np.float32), features]))
    frame[0] = frame[0].astype(np.int8)
    frame.to_csv(tmp_path / "pandas.csv", header=False, index=False, float_format="%.9g")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_train_and_test_parts_are_consecutive_runs_of_the_one_file(seed_csv, tmp_path):
    """One train part per training host (the train channel is ShardedByS3Key), one test part
    per processing instance (EvaluateShards' input is too); concatenated, the parts are the
    single file byte for byte, and the other outputs do not change."""
    for name, parts in (("one", ["1", "1"]), ("three", ["3", "2"])):
        proc = run("processing/preprocess.py", "--input", seed_csv, "--output-dir",
                   tmp_path / name, "--train-parts", parts[0], "--test-parts", parts[1],
                   check=0)  # fmt: skip
    counts = split_counts(proc.stdout)
    one, three = tmp_path / "one", tmp_path / "three"
    for split, count in (("train", 3), ("test", 2)):
        files = sorted(p.name for p in (three / split).iterdir())
        assert files == ["%s-part-%05d.csv" % (split, i) for i in range(count)]
        pieces = [(three / split / f).read_bytes() for f in files]
        assert b"".join(pieces) == (one / split / (split + ".csv")).read_bytes()
        rows = [piece.count(b"\n") for piece in pieces]  # as even as the rows divide
        assert sum(rows) == counts[split] and max(rows) - min(rows) <= 1
    for same in ("validation/validation.csv", "preprocessing/preprocessing.json"):
        assert (three / same).read_bytes() == (one / same).read_bytes()
    for split, readers in (("train", "training"), ("test", "processing")):
        message = "the %s split has %d rows, fewer than the 5000 %s instances" % (
            split, counts[split], readers)  # fmt: skip
        too_many = run("processing/preprocess.py", "--input", seed_csv, "--output-dir",
                       tmp_path / "many", "--%s-parts" % split, "5000")  # fmt: skip
        assert too_many.returncode == 1 and "Traceback" not in too_many.stderr
        assert message in too_many.stderr
        assert not (tmp_path / "many" / "train").exists()


def test_too_few_rows_to_stratify(tmp_path):
    rows = ["C%d,40,5,100,2,1,%d" % (i, int(i == 0)) for i in range(10)]
    path = tmp_path / "tiny.csv"
    path.write_text(
        "customer_id,age,tenure,balance,num_products,is_active,churn\n" + "\n".join(rows) + "\n"
    )
    proc = run("processing/preprocess.py", "--input", path, "--output-dir", tmp_path / "out")
    assert proc.returncode == 1 and "too few to split" in proc.stderr


def test_a_max_categories_that_is_not_a_positive_count_fails_the_job(seed_csv, tmp_path):
    """The recipe module is DataBrew's twin's too: maxCategories -1 kept all but the last
    category of the one-hot encoding, silently, in PreprocessData as in a DataBrew run
    (https://docs.aws.amazon.com/databrew/latest/dg/recipe-actions.ONE_HOT_ENCODING.html
    documents no such parameter). The job fails naming the parameter."""
    recipe = [
        {"Action": {"Operation": "DELETE", "Parameters": {"sourceColumn": "customer_id"}}},
        {
            "Action": {
                "Operation": "ONE_HOT_ENCODING",
                "Parameters": {"sourceColumn": "num_products", "maxCategories": "-1"},
            }
        },
    ]
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    proc = run("processing/preprocess.py", "--input", seed_csv, "--recipe", path,
               "--output-dir", tmp_path / "out")  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "maxCategories" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "preprocessing").exists()


def test_a_recipes_conditions_reach_preprocess_data(seed_csv, tmp_path):
    """ConditionExpressions (https://docs.aws.amazon.com/databrew/latest/dg/API_RecipeStep.html)
    were dropped from the recipe PreprocessData fits, so a conditional step applied to every
    row. They are now kept in the fitted recipe that inference replays, and one the recipe
    module cannot evaluate fails the job by name."""

    def preprocess(condition, out):
        fill = {
            "Action": {
                "Operation": "FILL_WITH_CUSTOM",
                "Parameters": {"sourceColumn": "balance", "value": "0"},
            },
            "ConditionExpressions": [condition],
        }
        path = tmp_path / "recipe.json"
        delete = {"Action": {"Operation": "DELETE", "Parameters": {"sourceColumn": "customer_id"}}}
        path.write_text(json.dumps([delete, fill]))
        return run("processing/preprocess.py", "--input", seed_csv, "--recipe", path,
                   "--output-dir", out)  # fmt: skip

    kept = {"Condition": "GREATER_THAN", "Value": "60", "TargetColumn": "age"}
    proc = preprocess(kept, tmp_path / "kept")
    assert proc.returncode == 0, proc.stderr[-2000:]
    spec = json.loads((tmp_path / "kept/preprocessing/preprocessing.json").read_text())
    assert spec["recipe"][1]["ConditionExpressions"] == [kept]
    proc = preprocess(
        {"Condition": "MATCHES", "Value": "x", "TargetColumn": "age"}, tmp_path / "no"
    )
    assert proc.returncode == 1 and "condition MATCHES is not evaluated" in proc.stderr
    assert "Traceback" not in proc.stderr


def divided(table_csv, tmp_path, hosts=4, objects=5, extra=()):
    """preprocess.py as a divided job: the table as `objects` objects dealt round-robin to
    `hosts` instances (the last hosts may get none), PreprocessShards on each, PreprocessData
    merging their summaries, PreprocessApply on each. Returns the merge's process."""
    lines = table_csv.read_text().splitlines()
    size = -(-(len(lines) - 1) // objects)
    names = ["algo-%d" % (h + 1) for h in range(hosts)]
    for k in range(objects):
        share = tmp_path / "in" / names[k % hosts]
        share.mkdir(parents=True, exist_ok=True)
        rows = lines[1 + size * k : 1 + size * (k + 1)]
        (share / ("part-%d.csv" % k)).write_text("\n".join([lines[0]] + rows) + "\n")
    for name in names:
        (tmp_path / "in" / name).mkdir(parents=True, exist_ok=True)
        config = tmp_path / ("%s.json" % name)
        config.write_text(json.dumps({"current_host": name, "hosts": names}))
        run("processing/preprocess.py", "--input", tmp_path / "in" / name, "--output-dir",
            tmp_path / "shards", "--shard-of", config, *extra, check=0)  # fmt: skip
    merged = run("processing/preprocess.py", "--merge", tmp_path / "shards", "--output-dir",
                 tmp_path / "merged", *extra)  # fmt: skip
    if merged.returncode == 0:
        for name in names:
            run("processing/preprocess.py", "--input", tmp_path / "in" / name, "--output-dir",
                tmp_path / "applied", "--apply", tmp_path / "merged", "--resource-config",
                tmp_path / ("%s.json" % name), "--train-parts", "2", *extra, check=0)  # fmt: skip
    return merged


@pytest.mark.parametrize("name", ["seed", "bank"])
def test_a_divided_job_writes_what_one_instance_writes(name, seed_csv, tmp_path):
    """PreprocessShards, PreprocessData and PreprocessApply (ADR 0017) over four instances,
    one given no object: preprocessing.json is one instance's byte for byte (the fitted
    recipe, the data checks, the split, the categories: bank's travel as text); each split
    holds one instance's rows, line for line (in the instances' order, not the table's); each
    instance writes its train rows as two parts, numbered so that training host t reads part
    t of every instance."""
    table = {"seed": seed_csv, "bank": BANK}[name]
    if not table.is_file():
        pytest.skip("../shared/data is not next to this checkout")
    run("processing/preprocess.py", "--input", table, "--schema", name, "--output-dir",
        tmp_path / "one", check=0)  # fmt: skip
    merged = divided(
        table, tmp_path, hosts=4, objects=3, extra=("--schema", name, "--chunk-rows", "400")
    )
    assert merged.returncode == 0, merged.stderr
    rows = len(table.read_text().splitlines()) - 1
    assert "%d rows in 4 summaries -> train " % rows in merged.stdout
    one = (tmp_path / "one/preprocessing/preprocessing.json").read_bytes()
    assert (tmp_path / "merged/preprocessing.json").read_bytes() == one
    for split in ("train", "validation", "test"):
        single = (tmp_path / "one" / split / (split + ".csv")).read_text().splitlines()
        parts = sorted((tmp_path / "applied" / split).iterdir())
        lines = [line for part in parts for line in part.read_text().splitlines()]
        assert sorted(lines) == sorted(single) and len(lines) == len(single)
    train = sorted(p.name for p in (tmp_path / "applied/train").iterdir())
    assert train == ["train-part-%05d.csv" % i for i in range(6)]  # algo-4 wrote none
    assert sorted(p.name for p in (tmp_path / "applied/test").iterdir()) == [
        "test-part-00000.csv", "test-part-00001.csv", "test-part-00002.csv"]  # fmt: skip


def test_a_divided_job_refuses_what_counts_cannot_fit(seed_csv, tmp_path):
    """A recipe that removes rows, a summary of another schema or a forged one: one line
    naming what is wrong, and no preprocessing.json."""
    remove = [{"Action": {"Operation": "REMOVE_MISSING", "Parameters": {"sourceColumn": "age"}}}]
    recipe = tmp_path / "recipe.json"
    recipe.write_text(
        json.dumps(remove + json.loads(json.dumps(default_recipe(load_schema("seed")))))
    )
    proc = divided(seed_csv, tmp_path / "filter", hosts=2, objects=2, extra=("--recipe", recipe))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "step 1 (REMOVE_MISSING of 'age') removes rows; a divided PreprocessData" in proc.stderr
    assert "run with ProcessingInstanceCount 1" in proc.stderr
    assert not (tmp_path / "filter/merged/preprocessing.json").exists()

    assert divided(seed_csv, tmp_path / "good", hosts=2, objects=2).returncode == 0
    # A bad row in the last chunk of a share: PreprocessApply names its row in the share and
    # publishes none of the parts it had begun.
    lines = seed_csv.read_text().splitlines()
    share = tmp_path / "bad-share"
    share.mkdir()
    (share / "a.csv").write_text("\n".join(lines[:1001]) + "\n")
    (share / "b.csv").write_text("\n".join([lines[0], lines[1001], lines[1002][:-1] + "7"]) + "\n")
    proc = run("processing/preprocess.py", "--input", share, "--output-dir", tmp_path / "bad",
               "--apply", tmp_path / "good/merged", "--resource-config",
               tmp_path / "good/algo-1.json", "--chunk-rows", "400")  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "values outside ['0', '1'] (first at data row 1002: '7')" in proc.stderr
    assert not list((tmp_path / "bad").rglob("*.csv*"))
    shards = tmp_path / "good" / "shards"
    (shards / "algo-2" / "preprocess_summary.npz").write_bytes(b"PK\x03\x04 not a zip")
    proc = run("processing/preprocess.py", "--merge", shards, "--output-dir", tmp_path / "out")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "algo-2/preprocess_summary.npz is not a preprocessing shard's summary" in proc.stderr
    bank = tmp_path / "bank.json"
    schema = json.loads((ROOT / "processing/schemas/seed.json").read_text())
    schema["features"] = schema["features"][:3]
    bank.write_text(json.dumps(schema))
    proc = run("processing/preprocess.py", "--merge", shards, "--schema", bank, "--output-dir",
               tmp_path / "out")  # fmt: skip
    assert proc.returncode == 1 and "its features are not schema" in proc.stderr
    assert not (tmp_path / "out").exists()
