import os, shutil, sys
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
