"cxr-report end to end with the committed models: every strategy writes and reads back a report; bad input is one line and exit 2."
import json

import pytest

from conftest import run, assert_one_line_error, cli

pytestmark = pytest.mark.slow  # each case starts a console script in a fresh interpreter


def report(args, data_root, tmp_path):
    return run("cxr-report", args, data_root, tmp_path)


def test_checklist_classifier_report_json(real_data_root, tmp_path):
    res = report(["test:3", "--strategy", "checklist_classifier", "--json"], real_data_root, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["strategy"] == "checklist_classifier" and out["backend"] == "compact" and out["report"]
    assert set(out["vqa_answers"]) == {"pneumonia", "bacterial", "viral", "normal"} and all(0 <= p <= 1 for p in out["vqa_answers"].values())
    assert out["classifier"]["model"] == "four-finding CNN ensemble" and 0 <= out["classifier"]["probability"] <= 1
    assert out["classifier"]["threshold"] == pytest.approx(0.5)
    assert out["report_label"] in ("pneumonia", "normal", None) and isinstance(out["unsupported_findings"], list)


def test_template_report_follows_the_vqa_answers(real_data_root, tmp_path):
    "The control strategy is the grammar applied to the calibrated answers: its label is the pneumonia answer at the stored threshold."
    from cxr_lib.reports import vqa_thresholds
    res = report(["test:0", "--strategy", "template", "--json"], real_data_root, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    said_yes = out["vqa_answers"]["pneumonia"] >= vqa_thresholds()["pneumonia"]
    assert out["report_label"] == ("pneumonia" if said_yes else "normal") and out["unsupported_findings"] == []
    assert out["report"].startswith("Findings: ") and "\nImpression: " in out["report"]


def test_checked_report_never_contradicts_its_answers(real_data_root, tmp_path):
    "The checked writer's report, whatever the language model wrote, contradicts none of the four answers it was given."
    from cxr_lib.report_labels import contradictions
    from cxr_lib.reports import vqa_thresholds
    for film in ("test:7", "test:32"):
        res = report([film, "--strategy", "checklist_checked", "--json"], real_data_root, tmp_path)
        assert res.returncode == 0, res.stderr[-3000:]
        out = json.loads(res.stdout)
        assert out["contradictions"] == [] and contradictions(out["report"], out["vqa_answers"], vqa_thresholds()) == []
        assert out["report_label"] in ("pneumonia", "normal") and out["unsupported_findings"] == [] and isinstance(out["replaced_by_template"], bool)


def test_default_strategy_is_the_validation_choice(real_data_root, tmp_path):
    from cxr_lib.report_writer import chosen_strategy
    res = report(["test:0", "--json"], real_data_root, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout)["strategy"] == chosen_strategy()


def test_text_output_on_a_png(real_data_root, tmp_path):
    from PIL import Image
    from cxr_lib.data import load_pneumoniamnist
    png = tmp_path / "film.png"
    Image.fromarray(load_pneumoniamnist(real_data_root).images["test"][7]).resize((224, 224)).save(png)
    res = report([str(png), "--strategy", "structured", "--max-new-tokens", "40"], real_data_root, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "-- read as: " in res.stdout and "structured on compact" in res.stdout


BAD = {"unknown strategy": (["test:1", "--strategy", "poem"], ("unknown --strategy 'poem'", "checklist_classifier")),
       "unknown backend": (["test:1", "--backend", "gpu"], ("unknown --backend 'gpu'", "compact")),
       "not an image": (["{junk}"], ("not a readable PNG/JPEG",)),
       "missing adapter": (["test:1", "--strategy", "checklist", "--adapter", "{nope}"], ("no report adapter",)),
       "bad reference": (["test:9999"], ("outside split test",)),
       "hf without model": (["test:1", "--backend", "hf"], ("needs --model-id",)),
       "zero tokens": (["test:1", "--max-new-tokens", "0"], ("--max-new-tokens 0", "≥ 1"))}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line(real_data_root, tmp_path, case):
    junk = tmp_path / "junk.png"; junk.write_bytes(b"not a png at all")
    args, needles = BAD[case]
    args = [a.format(junk=junk, nope=tmp_path / "nope") for a in args]
    assert_one_line_error(report(args, real_data_root, tmp_path), *needles)
