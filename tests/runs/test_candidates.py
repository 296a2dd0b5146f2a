"""`vlga_jax.runs.candidates`: every evaluated candidate as a table (CSV without pandas, a
DataFrame with it), from records or from a run's logs alike."""

import csv
import json
import math
import sys

import pytest

from vlga_jax.networks.architecture import architecture_label, from_description
from vlga_jax.runs.candidates import COLUMNS, frame, rows, write_csv
from vlga_jax.runs.records import CandidateRecord
from vlga_jax.runs.runlog import to_json_line

GENOME = {"blocks": [{"channels_a": 8, "kernel_a": 3, "include_b": True, "channels_b": 16,
                      "kernel_b": 1, "include_pool": True, "include_skip": True},
                     {"channels_a": 32, "kernel_a": 5}], "globals": {"activation": "relu"}}


def record(fitness=0.5, failed=False, **kw):
    arch = from_description(GENOME, input_shape=(8, 8, 1), num_classes=10)
    return CandidateRecord(phase=1, generation=2, hash="abc", genome=GENOME, fitness=fitness,
                           epochs=3, seconds=1.5, failed=failed,
                           reason="loss NaN" if failed else "", cache_hit=False,
                           param_count=arch.param_count, flops=arch.flops_per_example,
                           architecture=architecture_label(arch), **kw)


def test_label_and_rows_from_records_and_from_logs():
    assert record().architecture == "8k3,16k1+skip/p 32k5"
    assert architecture_label(from_description(
        {"blocks": [{"units": 64}, {"units": 32}], "globals": {}}, input_shape=(8, 8, 1),
        num_classes=10)) == "d64 d32"
    records = [record(), record(float("nan"), failed=True)]
    table = rows(records)
    assert list(table[0]) == list(COLUMNS)
    assert table[0]["fitness"] == 0.5 and table[1]["fitness"] is None
    assert table[1]["failed"] and table[1]["reason"] == "loss NaN"
    assert json.loads(table[0]["genome"]) == GENOME
    # The JSON lines of logs/candidates.jsonl give the same rows.
    logged = [json.loads(to_json_line(r)) for r in records]
    assert rows(logged) == table
    # Records written before the label existed: an empty label.
    del logged[0]["architecture"]
    assert rows(logged)[0]["architecture"] == ""


def test_several_objectives_get_a_column_each(tmp_path):
    table = rows([record(objectives=[0.5, -1000.0]), record(objectives=[None, -10.0])],
                 ("val_acc", "neg_params"))
    assert table[0]["val_acc"] == 0.5 and table[1]["val_acc"] is None
    path = tmp_path / "c.csv"
    write_csv(path, table)
    with open(path, newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == [*COLUMNS, "val_acc", "neg_params"]
    assert read[1]["val_acc"] == "" and float(read[1]["neg_params"]) == -10.0
    assert read[0]["architecture"] == "8k3,16k1+skip/p 32k5" and read[0]["failed"] == "False"


def test_frame_and_its_missing_extra(monkeypatch):
    import pandas as pd
    df = frame(rows([record(), record(float("-inf"), failed=True)]))
    assert list(df.columns) == list(COLUMNS) and len(df) == 2
    assert df["fitness"].dtype == float and math.isnan(df["fitness"][1])
    assert df.query("not failed")["params"].tolist() == [record().param_count]
    assert list(frame([]).columns) == list(COLUMNS)
    assert isinstance(df, pd.DataFrame)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'vlga-jax\[pandas\]'"):
        frame([])
