"""The smoke run that `make test` does before pytest (`cxr-book --smoke --no-build`, every chapter and its own tests at smoke
parameters, once): it must be a run of the code in this tree, have covered every chapter, written only under build/smoke, and left
the committed results and models alone."""
import json, subprocess

import pytest

from conftest import ROOT
from cxr_lib.book import chapter_notebooks, source_fingerprint

SMOKE = ROOT / "build" / "smoke"
pytestmark = pytest.mark.slow  # it reads the smoke book, which `make unit` does not run


@pytest.fixture(scope="module")
def smoke_notebooks():
    record = SMOKE / "run.json"
    if not record.is_file(): pytest.fail("no finished smoke run under build/smoke: run `make smoke` (make test does) before pytest")
    if json.loads(record.read_text())["source"] != source_fingerprint(ROOT):
        pytest.fail("build/smoke is a smoke run of other sources than this tree's: run `make smoke` again")
    return {p.stem: p for p in (SMOKE / "nbs").glob("*.ipynb")}


def test_every_chapter_ran_at_smoke_parameters(smoke_notebooks):
    missing = [nb.stem for nb in chapter_notebooks(ROOT) if nb.stem not in smoke_notebooks]
    assert not missing, f"chapters without a smoke run: {missing}"
    for name, path in smoke_notebooks.items():
        nb = json.loads(path.read_text())
        assert nb["metadata"]["papermill"]["parameters"] == {"smoke": True}, name
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"


def test_smoke_run_wrote_only_its_scratch_folder(smoke_notebooks):
    assert (SMOKE / "results" / "data" / "audit.json").is_file(), "the data chapter should have written its audit under build/smoke/results"
    changed = subprocess.run(["git", "status", "--porcelain", "--", "results", "models"], capture_output=True, text=True, cwd=ROOT).stdout
    assert changed == "", f"a smoke run changed committed files (it must write only where CXR_RESULTS/CXR_MODELS point):\n{changed}"
