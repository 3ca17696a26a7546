"cxr-calibrate-site end to end on a copy of the committed VQA checkpoint: every refusal is one line, exit 2 and no file written; a profile is written beside the weights, never over the committed operating points, and cxr-vqa / cxr-report answer with it."
import json, shutil

import numpy as np
import pytest

from conftest import ROOT, assert_one_line_error, run

pytestmark = pytest.mark.slow  # each case starts a console script in a fresh interpreter

CHECKPOINT = next((ROOT / "models" / "vqa").glob("four_finding_cnn-seed0-*"))


@pytest.fixture()
def checkpoint(tmp_path):
    folder = tmp_path / "ck"
    shutil.copytree(CHECKPOINT, folder)
    return folder


def labels_csv(path, findings=("pneumonia", "normal"), n=20, answer=lambda i, f: (i % 2 == 0) == (f == "pneumonia")):
    rows = ["image,finding,answer"] + [f"test:{i},{f},{'yes' if answer(i, f) else 'no'}" for f in findings for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def files(folder): return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("case, needles", [
    ("missing file", ("not found",)),
    ("too few films", ("only 5 films labelled for normal", "at least 20")),
    ("one answer only", ("every normal film is answered no",)),
    ("bad answer", ("row 2", "not yes or no")),
    ("unknown finding", ("unknown finding 'effusion'",)),
    ("unreadable image", ("row 2",)),
    ("bad name", ("--name", "not a usable profile name")),
    ("not a CSV", ("is not a readable CSV",)),
])
def test_refusals_write_nothing(real_data_root, tmp_path, checkpoint, case, needles):
    csv, name = tmp_path / "site.csv", "clinic-a"
    if case == "missing file": csv = tmp_path / "nothing.csv"
    elif case == "too few films": labels_csv(csv, n=5)
    elif case == "one answer only": labels_csv(csv, answer=lambda i, f: f == "pneumonia")
    elif case == "bad answer": csv.write_text(labels_csv(csv).read_text().replace("test:0,pneumonia,yes", "test:0,pneumonia,maybe"))
    elif case == "unknown finding": csv.write_text(labels_csv(csv).read_text().replace("test:0,pneumonia", "test:0,effusion"))
    elif case == "unreadable image":
        (tmp_path / "broken.png").write_bytes(b"not an image")
        csv.write_text(labels_csv(csv).read_text().replace("test:0,", f"{tmp_path / 'broken.png'},", 1))
    elif case == "bad name": labels_csv(csv); name = "Clinic A/../x"
    elif case == "not a CSV": csv.write_bytes(b"\x89PNG\r\n\x1a\n")
    before = files(checkpoint)
    res = run("cxr-calibrate-site", [csv, "--name", name, "--checkpoint", checkpoint], real_data_root, tmp_path)
    assert res.returncode == 2
    assert_one_line_error(res, *needles)
    assert files(checkpoint) == before


def test_profile_beside_the_weights_and_used_by_the_clis(real_data_root, tmp_path, checkpoint):
    committed = (checkpoint / "operating_points.json").read_text()
    csv = labels_csv(tmp_path / "site.csv", n=24)
    res = run("cxr-calibrate-site", [csv, "--name", "clinic-a", "--checkpoint", checkpoint], real_data_root, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    profile_path = checkpoint / "site-clinic-a.operating_points.json"
    assert str(profile_path) in res.stdout and "--site clinic-a" in res.stdout
    assert (checkpoint / "operating_points.json").read_text() == committed  # the committed points are untouched
    profile = json.loads(profile_path.read_text())
    assert profile["site"] == "clinic-a" and profile["site_counts"] == {"normal": {"films": 24, "yes": 12}, "pneumonia": {"films": 24, "yes": 12}}
    base = json.loads(committed)["categories"]
    assert profile["categories"]["bacterial"] == base["bacterial"]  # a finding the site did not label keeps its committed calibrator
    m = profile["categories"]["pneumonia"]["site_map"]
    assert np.isfinite([m["a"], m["b"]]).all() and (m["a"], m["b"]) != (1.0, 0.0)

    again = run("cxr-calibrate-site", [csv, "--name", "clinic-a", "--checkpoint", checkpoint], real_data_root, tmp_path)
    assert_one_line_error(again, "already exists", "--replace")

    plain = json.loads(run("cxr-vqa", ["test:3", "Is there pneumonia?", "--checkpoint", checkpoint, "--json"], real_data_root, tmp_path).stdout)
    sited = run("cxr-vqa", ["test:3", "Is there pneumonia?", "--checkpoint", checkpoint, "--json", "--site", "clinic-a"], real_data_root, tmp_path)
    assert sited.returncode == 0, sited.stderr[-3000:]
    sited = json.loads(sited.stdout)
    assert sited["site"] == "clinic-a" and sited["p_yes"] == pytest.approx(plain["p_yes"], abs=1e-6)
    from cxr_lib.backends import calibrate
    assert sited["p_yes_calibrated"] == pytest.approx(float(calibrate("pneumonia", [plain["p_yes"]], profile)[0]), abs=1e-6)

    report = run("cxr-report", ["test:3", "--strategy", "template", "--json", "--site", str(profile_path)], real_data_root, tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    assert json.loads(report.stdout)["site"] == str(profile_path)


def test_unknown_site_profile_is_one_line(real_data_root, tmp_path, checkpoint):
    res = run("cxr-vqa", ["test:3", "Is there pneumonia?", "--checkpoint", checkpoint, "--site", "nowhere"], real_data_root, tmp_path)
    assert_one_line_error(res, "no site profile 'nowhere'", "cxr-calibrate-site")
    res = run("cxr-report", ["test:3", "--site", "nowhere"], real_data_root, tmp_path)
    assert_one_line_error(res, "no site profile 'nowhere'")
