"cxr-train-classifier and cxr-eval-classifier end to end on a tiny run, and their one-line errors on bad input."
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run, assert_one_line_error, cli

pytestmark = pytest.mark.slow  # each case starts a console script in a fresh interpreter


@pytest.fixture(scope="module")
def tiny_checkpoints(real_data_root, tmp_path_factory):
    "Two one-epoch CNN runs (seeds 3 and 4) on 256 training images."
    tmp = tmp_path_factory.mktemp("cls"); weights = []
    for seed in (3, 4):
        res = run("cxr-train-classifier", ["--model", "cnn", "--epochs", "1", "--limit", "256", "--seed", str(seed), "--out-dir", str(tmp / "ck")], real_data_root, tmp)
        assert res.returncode == 0, res.stderr[-3000:]
        found = sorted((tmp / "ck" / "cnn").glob(f"seed{seed}-*.safetensors"))
        assert len(found) == 1 and found[0].with_suffix(".json").is_file()
        assert str(found[0]) in res.stdout and "validation ROC AUC" in res.stdout
        weights.append(found[0])
    return tmp, weights


def test_train_then_evaluate(real_data_root, tiny_checkpoints):
    tmp, runs = tiny_checkpoints
    weights = runs[0]
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["config"]["limit"] == 256 and meta["best_epoch"] == 1 and meta["train_seconds"] > 0
    out = tmp / "eval"
    res = run("cxr-eval-classifier", ["--checkpoints", ",".join(map(str, runs)), "--n-boot", "20", "--out-dir", str(out)], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"cnn", "ensemble"} and summary["best"] in summary["models"]
    assert summary["models"]["cnn"]["seeds"] == [3, 4] and summary["models"]["ensemble"]["members"] == ["cnn/seed3", "cnn/seed4"]
    entry = summary["models"]["cnn"]
    for key in ("threshold", "temperature", "seeds", "train_seconds", "test", "calibration", "label_shift"):
        assert key in entry
    test = pd.read_csv(out / "cnn" / "test_predictions.csv")
    assert list(test.columns) == ["index", "label", "logit", "prob", "prob_calibrated"] and len(test) == 624
    np.testing.assert_allclose(test.prob_calibrated, 1 / (1 + np.exp(-test.logit / entry["temperature"])), rtol=1e-9)
    assert {p.name for p in (out / "figures").glob("*.png")} == {"training_curves.png", "roc_pr_test.png"} | {
        f"{kind}_{name}.png" for name in ("cnn", "ensemble") for kind in ("confusion", "reliability", "failures_fn", "failures_fp")}
    assert not list((tmp / "ck").rglob("*.operating_points.json"))  # only the Task-1 run (cnn, seed 0, defaults) stores one


def test_retrain_is_skipped_for_a_stored_config(real_data_root, tiny_checkpoints):
    tmp, (weights, _) = tiny_checkpoints
    before = weights.stat().st_mtime_ns
    res = run("cxr-train-classifier", ["--model", "cnn", "--epochs", "1", "--limit", "256", "--seed", "3", "--out-dir", str(weights.parent.parent)], real_data_root, tmp)
    assert res.returncode == 0 and weights.stat().st_mtime_ns == before


def test_eval_errors_are_one_line(real_data_root, tiny_checkpoints, tmp_path):
    _, (weights, _) = tiny_checkpoints
    assert_one_line_error(run("cxr-eval-classifier", ["--ckpt-dir", str(tmp_path / "none")], real_data_root, tmp_path), "no checkpoint for cnn seed 0", "cxr-train-classifier --model cnn --seed 0")
    assert_one_line_error(run("cxr-eval-classifier", ["--models", "resnet"], real_data_root, tmp_path), "unknown --models 'resnet'", "cnn, vit, efficientnet_lite0")
    assert_one_line_error(run("cxr-eval-classifier", ["--models", "cnn,resnet"], real_data_root, tmp_path), "unknown --models 'resnet'")
    assert_one_line_error(run("cxr-eval-classifier", ["--seeds", "a,b"], real_data_root, tmp_path), "comma-separated integers")
    assert_one_line_error(run("cxr-eval-classifier", ["--seeds", "0,-1"], real_data_root, tmp_path), "--seeds -1 is out of range")
    assert_one_line_error(run("cxr-eval-classifier", ["--n-boot", "0"], real_data_root, tmp_path), "--n-boot 0 is out of range")
    bad = tmp_path / "cnn" / weights.name; bad.parent.mkdir(); bad.write_bytes(b"garbage")
    bad.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    assert_one_line_error(run("cxr-eval-classifier", ["--checkpoints", str(bad)], real_data_root, tmp_path), "not a readable safetensors file")
    assert_one_line_error(run("cxr-eval-classifier", ["--checkpoints", str(tmp_path / "x.safetensors")], real_data_root, tmp_path), "no classifier checkpoint at")


@pytest.mark.parametrize("args, needle", [
    (["--epochs", "-1"], "--epochs -1 is out of range"),
    (["--epochs", "0"], "--epochs 0 is out of range"),
    (["--lr", "0"], "--lr 0.0 is out of range"),
    (["--batch-size", "0"], "--batch-size 0 is out of range"),
    (["--label-smoothing", "1"], "--label-smoothing 1.0 is out of range"),
    (["--weight-decay", "-0.1"], "--weight-decay -0.1 is out of range"),
    (["--limit", "-5"], "--limit -5 is out of range"),
    (["--seed", "-1"], "--seed -1 is out of range"),
    (["--model", "resnet"], "unknown --model 'resnet'"),
    (["--augment", "vflip"], "unknown --augment 'vflip'"),
    (["--schedule", "step"], "unknown --schedule 'step'"),
    (["--balance", "smote"], "unknown --balance 'smote'"),
    (["--normalise", "none"], "unknown --normalise 'none'"),
    (["--task", "three_class"], "unknown --task 'three_class'"),
    (["--split", "random"], "unknown --split 'random'"),
    (["--mixup", "-1"], "--mixup -1.0 is out of range"),
])
def test_train_rejects_bad_values(real_data_root, tmp_path, args, needle):
    res = run("cxr-train-classifier", ["--model", "cnn", *args] if "--model" not in args else args, real_data_root / "nowhere", tmp_path)
    assert_one_line_error(res, needle)  # refused before the (missing) data are read
    assert res.returncode == 2 and not (tmp_path / "models").exists()


def test_train_needs_the_data_and_enough_images(real_data_root, tmp_path):
    assert_one_line_error(run("cxr-train-classifier", ["--limit", "5"], real_data_root / "nowhere", tmp_path), "CXR_DATA_ROOT")
    assert_one_line_error(run("cxr-train-classifier", ["--limit", "100", "--epochs", "1"], real_data_root, tmp_path), "0 optimisation steps")


def test_four_finding_run_on_the_patient_split(real_data_root, tmp_path):
    "A one-epoch four-finding run trains on the patient-disjoint split, is stored under cnn_four_finding, and the official-split evaluator refuses it."
    res = run("cxr-train-classifier", ["--task", "four_finding", "--split", "patient", "--epochs", "1", "--limit", "256", "--mixup", "0.4", "--augment", "shift", "--out-dir", str(tmp_path / "ck")], real_data_root, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (weights,) = sorted((tmp_path / "ck" / "cnn_four_finding").glob("seed0-*.safetensors"))
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert (meta["config"]["task"], meta["config"]["split"], meta["config"]["mixup"]) == ("four_finding", "patient", 0.4)
    from cxr_lib.classifier import Classifier, predict_logits
    from cxr_lib.data import load_pneumoniamnist
    model, _ = Classifier.from_pretrained(weights)
    assert predict_logits(model, load_pneumoniamnist(real_data_root).images["test"][:5]).shape == (5, 3)
    assert_one_line_error(run("cxr-eval-classifier", ["--checkpoints", str(weights)], real_data_root, tmp_path), "four_finding run on the patient split", "four-finding chapter")

