"""The synthetic table: the same file for the same rows and seed, and a big table written a
chunk at a time whose chunks join into one table (ids continue, no header repeated)."""

import pandas as pd
import pytest

from pipelines.churn.datagen import COLUMNS, generate, write_csv


@pytest.mark.fast
def test_a_table_within_one_chunk_is_the_generated_frame(tmp_path):
    rate = write_csv(800, 3, tmp_path / "t.csv", chunk_rows=1000)
    written = pd.read_csv(tmp_path / "t.csv")
    pd.testing.assert_frame_equal(written, generate(800, 3))
    assert rate == pytest.approx(written["churn"].mean())


@pytest.mark.fast
def test_a_bigger_table_is_its_chunks_with_ids_that_continue(tmp_path):
    rate = write_csv(2500, 3, tmp_path / "t.csv", chunk_rows=1000)
    written = pd.read_csv(tmp_path / "t.csv")
    assert list(written.columns) == COLUMNS and len(written) == 2500
    assert written["customer_id"].tolist() == ["C%08d" % i for i in range(1, 2501)]
    chunks = [generate(1000, 3), generate(1000, 4, 1001), generate(500, 5, 2001)]
    pd.testing.assert_frame_equal(written, pd.concat(chunks, ignore_index=True))
    assert rate == pytest.approx(written["churn"].mean())
    assert 0.15 < rate < 0.25
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temporary file left


@pytest.mark.fast
def test_no_rows_is_refused():
    with pytest.raises(ValueError, match="--rows must be at least 1"):
        write_csv(0, 3, "unused.csv")
