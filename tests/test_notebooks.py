"Every notebook's own tests (test_eq/test_fail cells and the rest), run by nbdev-test at smoke parameters."
import hashlib, os, subprocess

from conftest import ROOT, cli


def _fingerprints(folder):
    return {p.relative_to(folder): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_nbdev_test_smoke(tmp_path):
    committed = {d: _fingerprints(ROOT / d) for d in ("results", "models")}
    # two notebooks run at once, each in its own process: one OpenMP thread each, or their spinning threads starve each other
    env = {**os.environ, "CXR_SMOKE": "1", "CXR_RESULTS": str(tmp_path / "results"), "CXR_MODELS": str(tmp_path / "models"), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([cli("nbdev-test"), str(ROOT / "nbs"), "--n-workers", "2"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    assert "Success." in res.stdout
    assert (tmp_path / "results" / "data" / "audit.json").exists(), "the data chapter should have written its audit where CXR_RESULTS points"
    for d, before in committed.items():
        assert _fingerprints(ROOT / d) == before, f"a smoke run changed the committed {d}/: it must write only where CXR_RESULTS/CXR_MODELS point"
