import os, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def data_root() -> Path:
    "The real data folder (CXR_DATA_ROOT, default ../shared/data); tests that need it fail loudly when it is missing."
    env = os.environ.get("CXR_DATA_ROOT", "../shared/data")
    p = Path(env) if Path(env).is_absolute() else ROOT / env
    return p.resolve()


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    root = data_root()
    assert (root / "pneumoniamnist.npz").is_file(), f"no pneumoniamnist.npz in {root}: set CXR_DATA_ROOT"
    return root


def cli(name: str) -> str:
    exe = BIN / name
    return str(exe) if exe.exists() else shutil.which(name) or name


def run(name: str, args, data_root: Path, cwd: Path | None = None, **env):
    "Run console script `name` as a user would: the real data, models and results redirected under `cwd` (a test's tmp_path), one OpenMP thread."
    cwd = Path(cwd) if cwd else Path.cwd()
    full_env = {**os.environ, "CXR_DATA_ROOT": str(data_root), "CXR_MODELS": str(cwd / "models"), "CXR_RESULTS": str(cwd / "results"),
                "OMP_NUM_THREADS": "1", **{k: str(v) for k, v in env.items()}}
    return subprocess.run([cli(name), *map(str, args)], capture_output=True, text=True, env=full_env, cwd=cwd)


def assert_one_line_error(res, *needles):
    "A refused input: non-zero exit, no traceback, exactly one line on stderr holding every needle."
    assert res.returncode != 0, res.stdout[-2000:]
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr[-3000:]
    for n in needles: assert n in lines[0], lines[0]
