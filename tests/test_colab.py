"""A chapter run the way Colab runs it: a fresh folder, a kernel in which `google.colab` is imported, and the chapter's first
cell fetching the repository (here a file:// clone of this checkout, through CXR_REPO_URL), installing its requirements and
weight packages and the project, then running at smoke parameters from that clone with its committed models and results."""
import json, os, subprocess, sys, sysconfig

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # it installs the project as Colab would


def colab_like_python(tmp_path):
    "A new virtual environment that sees this one's packages (as Colab's kernel sees its preinstalled stack), with a stand-in `google.colab` imported at start-up."
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "venv" / "lib" / site.rsplit("/lib/", 1)[1] / "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    stub = tmp_path / "colab_stub"
    (stub / "google" / "colab").mkdir(parents=True)
    (stub / "google" / "__init__.py").write_text(""); (stub / "google" / "colab" / "__init__.py").write_text('"A stand-in for the module Colab preloads."\n')
    (stub / "sitecustomize.py").write_text("import google.colab  # Colab imports it before the first cell runs\n")
    return python, stub


def test_data_chapter_runs_as_in_colab(tmp_path, real_data_root):
    python, stub = colab_like_python(tmp_path)
    content = tmp_path / "content"; content.mkdir()  # Colab's working folder
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CXR_", "VIRTUAL_ENV"))}
    env.update(PYTHONPATH=str(stub), CXR_REPO_URL=f"file://{ROOT}", CXR_DATA_ROOT=str(real_data_root), CXR_RESULTS=str(tmp_path / "results"),
               CXR_MODELS=str(tmp_path / "models"), PATH=f"{python.parent}:{env['PATH']}")
    out = tmp_path / "01_data.ipynb"  # the lightest chapter that reads the data: the test is of the Colab path, not of a chapter
    res = subprocess.run([python, "-m", "papermill", str(ROOT / "nbs" / "01_data.ipynb"), str(out), "-p", "smoke", "True", "--cwd", str(content), "--no-progress-bar"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    clone = content / "cxr-vqa"
    assert (clone / ".git").is_dir() and (clone / "models" / "retrieval" / "dual_encoder.safetensors").is_file(), "the first cell should have cloned the study with its models"
    assert (tmp_path / "results" / "data" / "audit.json").is_file(), "the chapter should have written its smoke results"
    nb = json.loads(out.read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
