"The committed result files and notebooks agree with the data and come from full (not smoke) runs."
import json

import nbformat
import numpy as np
import pytest

from conftest import ROOT
from cxr_lib.book import is_hidden_cell, chapter_notebooks
from cxr_lib.data import SPLITS, duplicate_counts, exact_duplicate_pairs, load_pneumoniamnist


def test_audit_json_matches_the_data(real_data_root):
    audit = json.loads((ROOT / "results" / "data" / "audit.json").read_text())
    data = load_pneumoniamnist(real_data_root)
    assert audit["smoke"] is False and audit["md5_ok"] is True
    assert audit["split_sizes"] == {"train": 4708, "val": 524, "test": 624}
    assert audit["positives"] == {s: int(data.labels[s].sum()) for s in SPLITS}
    assert audit["positives"]["test"] == 390
    assert audit["duplicates"]["exact"]["pairs"] == duplicate_counts(exact_duplicate_pairs(data))["pairs"]
    assert audit["duplicates"]["near"]["complete"] is True


@pytest.mark.parametrize("nb_path", chapter_notebooks(ROOT), ids=lambda p: p.stem)
def test_committed_notebook_is_a_full_run(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "smoke = False" in injected[0].source, f"{nb_path.name} was not executed by cxr-book at full parameters"
    assert any("parameters" in c.metadata.get("tags", []) for c in code)
    assert all(c.execution_count is not None for c in code if c.source.strip()), f"{nb_path.name} has unexecuted cells"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{nb_path.name} has error outputs"
    for c in code:
        if is_hidden_cell(c.source):
            assert "remove-cell" in c.metadata.get("tags", []), f"{nb_path.name}: a hidden cell lacks the remove-cell tag"


def test_subtypes_csv_meets_the_acceptance_criteria(real_data_root):
    from cxr_lib.subtypes import load_subtypes
    df = load_subtypes(path=ROOT / "results" / "subtypes" / "pneumoniamnist_subtypes.csv")
    assert list(df.columns) == ["split", "index", "label", "subtype", "patient", "source_file", "match_score", "margin", "confidence"]
    assert len(df) == 5856 and df.groupby("split").size().to_dict() == {"test": 624, "train": 4708, "val": 524}
    data = load_pneumoniamnist(real_data_root)
    for s in SPLITS:
        part = df[df.split == s].sort_values("index")
        assert (part["index"].values == np.arange(len(data.labels[s]))).all()
        assert (part.label.values == data.labels[s]).all(), f"{s}: labels in the CSV differ from the data"
    test_pneu = df[(df.split == "test") & (df.label == 1)]
    assert test_pneu.subtype.value_counts().to_dict() == {"bacteria": 242, "virus": 148}
    pneu = df[df.label == 1]
    assert (pneu.confidence == "high").mean() >= 0.99
    assert set(df.subtype) <= {"normal", "bacteria", "virus", "unknown"} and set(df.confidence) <= {"high", "low", "unmatched"}
    assert (df[df.label == 0].subtype == "normal").all() and not (df[df.label == 1].subtype == "normal").any()
    high = df[df.confidence == "high"]
    assert (high.patient != "").all() and (high.match_score >= 0.95).all()
