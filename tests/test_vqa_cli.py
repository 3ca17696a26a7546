"cxr-train-vqa and cxr-vqa end to end on a tiny run; out-of-scope questions are flagged; stored operating points are used; bad input is one line and exit 2."
import json, shutil

import pytest
from PIL import Image

from conftest import assert_one_line_error, run

pytestmark = pytest.mark.slow  # each case starts a console script in a fresh interpreter


@pytest.fixture(scope="module")
def tiny_vqa(real_data_root, tmp_path_factory):
    "A VQA run on 16 training images (one step), selected on 8 validation images."
    tmp = tmp_path_factory.mktemp("vqa")
    res = run("cxr-train-vqa", ["--limit", "16", "--val-limit", "8", "--val-checks", "1", "--batch-size", "32", "--quiet", "--out-dir", str(tmp / "ck")], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    found = sorted((tmp / "ck").glob("four_finding_cnn-seed0-*"))
    assert len(found) == 1 and str(found[0]) in res.stdout and "validation AUC" in res.stdout
    return tmp, found[0]


def test_checkpoint_files(tiny_vqa):
    _, folder = tiny_vqa
    assert {p.name for p in folder.iterdir()} == {"adapter.safetensors", "projector.safetensors", "config.json"}
    meta = json.loads((folder / "config.json").read_text())
    assert meta["config"]["limit"] == 16 and meta["config"]["lora_targets"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert (meta["config"]["split"], meta["config"]["balance"], meta["config"]["packed"], meta["config"]["categories_per_image"]) == ("patient", "subtype", True, 4)
    assert meta["history"]["step"][0] == 0 and meta["train_seconds"] > 0  # validated before training, then after


def test_answer_json_and_map(real_data_root, tiny_vqa):
    tmp, folder = tiny_vqa
    res = run("cxr-vqa", ["test:5", "Is there bacterial pneumonia?", "--checkpoint", str(folder), "--json", "--map", str(tmp / "map.png")], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["category"] == "bacterial" and out["in_scope"] is True and out["note"] is None
    assert 0 < out["p_yes"] < 1 and 0 < out["yes_no_mass"] <= 1 and out["latency_ms"] > 0
    # no operating_points.json beside this checkpoint: p_yes ≥ 0.5, uncalibrated, and said so
    assert out["operating_point"] == "default" and out["threshold"] == 0.5 and out["p_yes_calibrated"] is None
    assert "no stored operating point" in out["operating_point_note"]
    assert out["answer"] == ("yes" if out["p_yes"] >= 0.5 else "no")
    with Image.open(tmp / "map.png") as im: assert im.size[0] > 100


def test_stored_operating_point_is_used(real_data_root, tiny_vqa, tmp_path):
    tmp, folder = tiny_vqa
    evaluated = shutil.copytree(folder, tmp_path / folder.name)
    entry = {"threshold": 0.0, "calibrator": "platt", "temperature": 1.0, "platt": {"a": 1.0, "b": 0.0}}  # identity calibrator; every answer is yes
    (evaluated / "operating_points.json").write_text(json.dumps({"categories": {"pneumonia": entry}}))
    res = run("cxr-vqa", ["test:5", "Is there pneumonia?", "--checkpoint", str(evaluated), "--json"], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["operating_point"] == "stored" and out["answer"] == "yes" and "operating_point_note" not in out
    assert abs(out["p_yes_calibrated"] - out["p_yes"]) < 1e-4  # sigmoid(logit p) = p
    res = run("cxr-vqa", ["test:5", "Is there pneumonia?", "--checkpoint", str(evaluated), "--threshold", "1"], real_data_root, tmp)
    assert res.returncode == 0 and res.stdout.startswith("no ") and "given" in res.stdout, res.stdout + res.stderr[-2000:]


def test_out_of_scope_question_is_answered_and_flagged(real_data_root, tiny_vqa, tmp_path):
    tmp, folder = tiny_vqa
    rgb = tmp_path / "colour.png"
    Image.new("RGB", (60, 40), (120, 30, 200)).save(rgb)
    res = run("cxr-vqa", [str(rgb), "Is there a fractured clavicle?", "--checkpoint", str(folder)], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "category=none" in res.stdout and "out of scope" in res.stdout and "converted RGB to grey" in res.stdout


@pytest.mark.parametrize("case", ["empty question", "not an image", "missing checkpoint", "bad reference", "threshold above 1"])
def test_bad_input_is_one_line(real_data_root, tiny_vqa, tmp_path, case):
    tmp, folder = tiny_vqa
    junk = tmp_path / "junk.png"; junk.write_bytes(b"not a png at all")
    args, needle = {"empty question": (["test:1", "   ", "--checkpoint", str(folder)], "question is empty"),
                    "not an image": ([str(junk), "Is there pneumonia?", "--checkpoint", str(folder)], "not a readable PNG/JPEG"),
                    "missing checkpoint": (["test:1", "Is there pneumonia?", "--checkpoint", str(tmp_path / "nope")], "no VQA checkpoint"),
                    "bad reference": (["test:9999", "Is there pneumonia?", "--checkpoint", str(folder)], "outside split test"),
                    "threshold above 1": (["test:1", "Is there pneumonia?", "--checkpoint", str(folder), "--threshold", "1.5"], "--threshold 1.5 is out of range")}[case]
    res = run("cxr-vqa", args, real_data_root, tmp)
    assert_one_line_error(res, needle)
    assert res.returncode == 2


@pytest.mark.parametrize("args, needle", [
    (["--image-tokens", "8"], "square number"), (["--image-tokens", "10"], "--image-tokens 10 is out of range"),
    (["--encoder", "resnet"], "unknown --encoder"), (["--epochs", "0"], "--epochs 0 is out of range"),
    (["--lr", "-1"], "--lr -1.0 is out of range"), (["--lora-rank", "0"], "--lora-rank 0 is out of range"),
    (["--split", "random"], "unknown --split"), (["--balance", "label"], "unknown --balance")])
def test_train_rejects_bad_settings(real_data_root, tmp_path, args, needle):
    res = run("cxr-train-vqa", args, real_data_root, tmp_path)
    assert_one_line_error(res, needle)
    assert res.returncode == 2 and not (tmp_path / "models").exists()  # refused before anything was loaded or written
