"cxr-train-classifier and cxr-eval-classifier end to end on a tiny run, and their one-line errors on bad input."
import json, os, subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import cli
from test_data_cli import assert_one_line_error


def run(name, args, data_root, tmp_path):
    env = {**os.environ, "CXR_DATA_ROOT": str(data_root), "CXR_MODELS": str(tmp_path / "models"), "CXR_RESULTS": str(tmp_path / "results")}
    return subprocess.run([cli(name), *args], capture_output=True, text=True, env=env, cwd=tmp_path)


@pytest.fixture(scope="module")
def tiny_checkpoint(real_data_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cls")
    res = run("cxr-train-classifier", ["--model", "cnn", "--epochs", "1", "--limit", "256", "--seed", "3", "--out-dir", str(tmp / "ck")], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    weights = sorted((tmp / "ck" / "cnn").glob("seed3-*.safetensors"))
    assert len(weights) == 1 and weights[0].with_suffix(".json").is_file()
    assert str(weights[0]) in res.stdout and "validation ROC AUC" in res.stdout
    return tmp, weights[0]


def test_train_then_evaluate(real_data_root, tiny_checkpoint):
    tmp, weights = tiny_checkpoint
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["config"]["limit"] == 256 and meta["best_epoch"] == 1 and meta["train_seconds"] > 0
    out = tmp / "eval"
    res = run("cxr-eval-classifier", ["--checkpoints", str(weights), "--n-boot", "20", "--out-dir", str(out)], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"] == "cnn" and set(summary["models"]) == {"cnn"}  # one run: no ensemble
    entry = summary["models"]["cnn"]
    for key in ("threshold", "temperature", "seeds", "train_seconds", "test", "calibration", "label_shift"):
        assert key in entry
    test = pd.read_csv(out / "cnn" / "test_predictions.csv")
    assert list(test.columns) == ["index", "label", "logit", "prob", "prob_calibrated"] and len(test) == 624
    np.testing.assert_allclose(test.prob_calibrated, 1 / (1 + np.exp(-test.logit / entry["temperature"])), rtol=1e-9)
    assert {p.name for p in (out / "figures").glob("*.png")} >= {"training_curves.png", "roc_pr_test.png", "confusion_cnn.png", "reliability_cnn.png", "failures_fn_cnn.png", "failures_fp_cnn.png"}


def test_retrain_is_skipped_for_a_stored_config(real_data_root, tiny_checkpoint):
    tmp, weights = tiny_checkpoint
    before = weights.stat().st_mtime_ns
    res = run("cxr-train-classifier", ["--model", "cnn", "--epochs", "1", "--limit", "256", "--seed", "3", "--out-dir", str(weights.parent.parent)], real_data_root, tmp)
    assert res.returncode == 0 and weights.stat().st_mtime_ns == before


def test_eval_errors_are_one_line(real_data_root, tiny_checkpoint, tmp_path):
    _, weights = tiny_checkpoint
    assert_one_line_error(run("cxr-eval-classifier", ["--ckpt-dir", str(tmp_path / "none")], real_data_root, tmp_path), "no checkpoint for cnn seed 0", "cxr-train-classifier --model cnn --seed 0")
    assert_one_line_error(run("cxr-eval-classifier", ["--models", "resnet"], real_data_root, tmp_path), "unknown model 'resnet'")
    assert_one_line_error(run("cxr-eval-classifier", ["--seeds", "a,b"], real_data_root, tmp_path), "comma-separated integers")
    bad = tmp_path / "cnn" / weights.name; bad.parent.mkdir(); bad.write_bytes(b"garbage")
    bad.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    assert_one_line_error(run("cxr-eval-classifier", ["--checkpoints", str(bad)], real_data_root, tmp_path), "not a readable safetensors file")
    assert_one_line_error(run("cxr-eval-classifier", ["--checkpoints", str(tmp_path / "x.safetensors")], real_data_root, tmp_path), "no classifier checkpoint at")


def test_train_rejects_bad_options(real_data_root, tmp_path):
    res = run("cxr-train-classifier", ["--augment", "vflip"], real_data_root, tmp_path)
    assert res.returncode == 2 and "invalid choice: 'vflip'" in res.stderr and "Traceback" not in res.stderr
    assert_one_line_error(run("cxr-train-classifier", ["--limit", "5"], real_data_root / "nowhere", tmp_path), "CXR_DATA_ROOT")
