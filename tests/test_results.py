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


def test_classifier_results_contract(real_data_root):
    "summary.json and the prediction CSVs: canonical shape, labels from the data, and every derived number recomputable."
    import pandas as pd
    from scipy.special import expit
    from sklearn.metrics import roc_auc_score
    from cxr_lib.calibration import ece
    from cxr_lib.metrics import threshold_for_sensitivity
    summary = json.loads((ROOT / "results" / "classifier" / "summary.json").read_text())
    data = load_pneumoniamnist(real_data_root)
    assert summary["best"] in summary["models"] and {"cnn", "vit", "efficientnet_lite0"} <= set(summary["models"])
    for name, entry in summary["models"].items():
        frames = {s: pd.read_csv(ROOT / "results" / "classifier" / name / f"{s}_predictions.csv") for s in ("val", "test")}
        for split, df in frames.items():
            assert list(df.columns) == ["index", "label", "logit", "prob", "prob_calibrated"]
            assert df["index"].tolist() == list(range(len(data.labels[split])))
            assert (df.label.to_numpy() == data.labels[split]).all()
            np.testing.assert_allclose(df.prob_calibrated, expit(df.logit / entry["temperature"]), rtol=1e-6)
        v, t = frames["val"], frames["test"]
        assert entry["threshold"] == pytest.approx(threshold_for_sensitivity(v.label, v.prob_calibrated, 0.95, 0.95))
        assert entry["test"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(t.label, t.prob_calibrated))
        pred = t.prob_calibrated >= entry["threshold"]
        assert entry["test"]["sensitivity"]["value"] == pytest.approx(pred[t.label == 1].mean())
        assert entry["test"]["specificity"]["value"] == pytest.approx(1 - pred[t.label == 0].mean())
        assert entry["calibration"]["ece_calibrated"]["value"] == pytest.approx(ece(t.label, t.prob_calibrated))
        assert entry["train_seconds"] > 0 and len(entry["seeds"]) >= (1 if name == "ensemble" else 3)
        assert all(m["lo"] <= m["value"] <= m["hi"] for m in entry["test"].values())
    vals = {n: e["val"]["roc_auc"] for n, e in summary["models"].items()}
    assert vals[summary["best"]] == max(vals.values()), "the best model is the one validation prefers"


def test_committed_checkpoints_reproduce_the_predictions(real_data_root):
    "The stored float16 weights give the committed logits: the CSVs come from the weights in models/."
    import pandas as pd
    from cxr_lib.classifier import load_classifier, predict_logits
    summary = json.loads((ROOT / "results" / "classifier" / "summary.json").read_text())
    for ckpt in summary["models"]["efficientnet_lite0"]["checkpoints"]:  # weights not committed; config and history are
        assert (ROOT / "models" / ckpt).with_suffix(".json").is_file(), ckpt
    images = load_pneumoniamnist(real_data_root).images["test"][:48]
    for name in ("cnn", "vit"):  # EfficientNet weights are too large to commit; `make book` retrains them
        entry = summary["models"][name]
        model, _ = load_classifier(ROOT / "models" / entry["checkpoints"][0])
        committed = pd.read_csv(ROOT / "results" / "classifier" / name / "test_predictions.csv").logit[:48]
        np.testing.assert_allclose(predict_logits(model, images), committed, atol=2e-3, err_msg=name)
