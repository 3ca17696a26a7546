"The cxr-data CLI on real and broken data: right answers, and one readable line (never a traceback) on bad input."
import tempfile

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, run as run_cli
from cxr_lib.data import PNEUMONIAMNIST_MD5, load_pneumoniamnist, write_synthetic_npz

pytestmark = pytest.mark.slow  # each case starts the command in a fresh interpreter


def run(args, data_root, tmp_path=None): return run_cli("cxr-data", args, data_root, cwd=tmp_path or tempfile.mkdtemp())


def test_verify_real_data(real_data_root):
    res = run(["verify"], real_data_root)
    assert res.returncode == 0, res.stderr
    assert f"md5 {PNEUMONIAMNIST_MD5} (ok)" in res.stdout
    for split, n, pos in (("train", 4708, 3494), ("val", 524, 389), ("test", 624, 390)):
        assert f"{split}: {n:5d} images, {pos:5d} pneumonia" in res.stdout


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_verify_corrupted_copy(real_data_root, tmp_path, damage):
    bad = tmp_path / "pneumoniamnist.npz"
    raw = bytearray((real_data_root / "pneumoniamnist.npz").read_bytes())
    if damage == "truncate": raw = raw[: len(raw) // 2]
    else: raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    res = run(["verify"], tmp_path)
    assert_one_line_error(res, "md5", PNEUMONIAMNIST_MD5, str(bad))
    assert bad.read_bytes() == bytes(raw), "a bad file must never be replaced or touched"


def test_verify_missing_file(tmp_path):
    assert_one_line_error(run(["verify"], tmp_path / "empty"), "not found", "CXR_DATA_ROOT")


def test_show_split_index(real_data_root, tmp_path):
    data = load_pneumoniamnist(real_data_root)
    res = run(["show", "test:17", "--out", str(tmp_path / "t17.png")], real_data_root)
    assert res.returncode == 0, res.stderr
    label = ("normal", "pneumonia")[int(data["test"][1][17])]
    assert res.stdout.startswith(f"test:17: 28×28, mean intensity {data['test'][0][17].mean():.1f}, label {label}")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "t17.png")), data["test"][0][17])


def test_show_bad_inputs(real_data_root, tmp_path):
    assert_one_line_error(run(["show", "test:624"], real_data_root), "outside split test (0..623)")
    (tmp_path / "scan.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert_one_line_error(run(["show", str(tmp_path / "scan.jpg")], real_data_root), "not a readable PNG/JPEG")
    assert_one_line_error(run(["show", str(tmp_path / "nope.png")], real_data_root), "neither an existing image file")
    assert_one_line_error(run(["show"], real_data_root), "needs an image argument")


def test_show_converts_a_colour_file(real_data_root, tmp_path):
    Image.fromarray(np.zeros((100, 80, 3), np.uint8)).save(tmp_path / "colour.png")
    res = run(["show", str(tmp_path / "colour.png")], real_data_root)
    assert res.returncode == 0, res.stderr
    assert "label unknown (converted RGB to grey; centre-cropped 80×100 to 80×80; resized 80×80 to 28×28)" in res.stdout


def test_loader_on_synthetic_npz_and_wrong_md5(tmp_path):
    sizes = {"train": 4, "val": 2, "test": 2}
    write_synthetic_npz(tmp_path / "pneumoniamnist.npz", sizes, seed=1)
    with pytest.raises(Exception, match="expected " + PNEUMONIAMNIST_MD5):
        load_pneumoniamnist(tmp_path, split_sizes=sizes)
    data = load_pneumoniamnist(tmp_path, expected_md5=None, split_sizes=sizes)
    assert data.sizes() == sizes and data["train"][0].dtype == np.uint8
