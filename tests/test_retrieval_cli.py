"cxr-index, cxr-search-image and cxr-search-text end to end on a small index built in a temporary folder; bad input is one line and exit 2."
import json, time, shutil, subprocess

import pytest
from PIL import Image

from conftest import run, assert_one_line_error, cli  # a console script with CXR_MODELS / CXR_RESULTS under the test's folder
from cxr_lib.data import load_pneumoniamnist
from cxr_lib.embeddings import EMBEDDINGS

pytestmark = pytest.mark.slow  # each case starts a console script in a fresh interpreter


@pytest.fixture(scope="module")
def small_index(real_data_root, tmp_path_factory):
    "A dual-encoder index of the first 40 test images, where CXR_MODELS points (the committed projection is found as fallback)."
    tmp = tmp_path_factory.mktemp("retrieval")
    res = run("cxr-index", ["--limit", "40"], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    path = tmp / "models" / "retrieval" / "index" / "test.faiss"
    assert path.is_file() and path.with_suffix(".json").is_file() and str(path) in res.stdout
    return tmp, path


def _json(res):
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


def test_index_metadata(real_data_root, small_index):
    _, path = small_index
    meta = json.loads(path.with_suffix(".json").read_text())
    y = load_pneumoniamnist(real_data_root).labels["test"][:40]
    assert meta["embedding"] == "dual_encoder" and meta["factory"] == "Flat" and meta["ntotal"] == 40 and meta["dim"] == 384
    assert meta["ids"] == list(range(40)) and meta["labels"] == y.tolist() and len(meta["subtypes"]) == 40 and len(meta["fingerprint"]) == 10


def test_search_image_json_and_grid(real_data_root, small_index):
    tmp, path = small_index
    started = time.perf_counter()
    out = _json(run("cxr-search-image", ["test:3", "-k", "5", "--json", "--grid", str(tmp / "grid.png"), "--index", str(path)], real_data_root, tmp))
    wall_ms = (time.perf_counter() - started) * 1000
    hits = out["hits"]
    y = load_pneumoniamnist(real_data_root).labels["test"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5] and out["k"] == 5 and out["embedding"] == "dual_encoder"
    assert hits[0]["index"] == 3 and abs(hits[0]["score"] - 1) < 1e-3  # the query is in the gallery: it finds itself first
    assert all(0 <= h["index"] < 40 for h in hits) and all(h["label"] == ("normal", "pneumonia")[y[h["index"]]] for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert out["search_ms"] > 0 and out["embed_ms"] > 0 and out["embed_ms"] + out["search_ms"] < wall_ms  # ms spent inside this command
    with Image.open(tmp / "grid.png") as im: assert im.size[0] > 300
    out = _json(run("cxr-search-image", ["test:3", "--k", "4", "--json", "--exclude-self", "--index", str(path)], real_data_root, tmp))
    assert len(out["hits"]) == 4 and 3 not in [h["index"] for h in out["hits"]]


def test_search_image_from_a_png_file(real_data_root, small_index, tmp_path):
    tmp, path = small_index
    img = load_pneumoniamnist(real_data_root).images["test"][7]
    Image.fromarray(img).resize((112, 112)).convert("RGB").save(tmp_path / "film.png")
    res = run("cxr-search-image", [str(tmp_path / "film.png"), "-k", "3", "--index", str(path)], real_data_root, tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [l for l in res.stdout.splitlines() if l.strip().startswith(("1 ", "2 ", "3 "))]
    assert len(lines) == 3 and "test:" in lines[0] and "score" in lines[0]


def test_search_text_json_and_grid(real_data_root, small_index):
    tmp, path = small_index
    out = _json(run("cxr-search-text", ["viral pneumonia", "-k", "6", "--json", "--grid", str(tmp / "text.png"), "--index", str(path)], real_data_root, tmp))
    assert out["query"] == "viral pneumonia" and [h["rank"] for h in out["hits"]] == list(range(1, 7))
    assert {"rank", "index", "score", "label", "subtype"} <= set(out["hits"][0])
    assert (tmp / "text.png").stat().st_size > 1000
    normal = _json(run("cxr-search-text", ["clear lungs", "-k", "6", "--json", "--index", str(path)], real_data_root, tmp))
    assert sum(h["label"] == "normal" for h in normal["hits"]) > sum(h["label"] == "normal" for h in out["hits"])


@pytest.fixture
def broken(small_index, tmp_path):
    "A copy of the small index that each case may damage."
    _, path = small_index
    shutil.copytree(path.parent, tmp_path / "idx")
    return tmp_path / "idx" / "test.faiss"


@pytest.mark.parametrize("case", ["missing index", "foreign model", "corrupt index", "empty query", "not an image", "text on image-only index"])
def test_bad_input_is_one_line(real_data_root, small_index, broken, tmp_path, case):
    tmp, path = small_index
    junk = tmp_path / "junk.png"; junk.write_bytes(b"not a png at all")
    if case == "foreign model":
        meta = json.loads(broken.with_suffix(".json").read_text()); meta["fingerprint"] = "0" * 10
        broken.with_suffix(".json").write_text(json.dumps(meta))
    if case == "corrupt index": broken.write_bytes(b"\x00" * 100)
    if case == "text on image-only index":
        res = run("cxr-index", ["--embedding", "task1_cnn", "--limit", "10", "--out", str(tmp_path / "cnn")], real_data_root, tmp)
        assert res.returncode == 0, res.stderr[-3000:]
    cmd, args, needle = {
        "missing index": ("cxr-search-image", ["test:1", "--index", str(tmp_path / "nope.faiss")], "no search index"),
        "foreign model": ("cxr-search-image", ["test:1", "--index", str(broken)], "was built by embedding dual_encoder"),
        "corrupt index": ("cxr-search-text", ["pneumonia", "--index", str(broken)], "corrupt"),
        "empty query": ("cxr-search-text", ["   ", "--index", str(path)], "text query is empty"),
        "not an image": ("cxr-search-image", [str(junk), "--index", str(path)], "not a readable PNG/JPEG"),
        "text on image-only index": ("cxr-search-text", ["pneumonia", "--index", str(tmp_path / "cnn" / "test.faiss")], "has no text encoder"),
    }[case]
    assert_one_line_error(run(cmd, args, real_data_root, tmp), needle, "fix:")


def test_index_rejects_bad_factory(real_data_root, tmp_path):
    assert_one_line_error(run("cxr-index", ["--factory", "NoSuchIndex", "--limit", "10", "--out", str(tmp_path)], real_data_root, tmp_path), "FAISS cannot build")


@pytest.mark.parametrize("cmd,query", [("cxr-search-image", "test:1"), ("cxr-search-text", "pneumonia")])
@pytest.mark.parametrize("k", ["0", "-3"])
def test_k_below_one_is_refused_before_loading(real_data_root, tmp_path, cmd, query, k):
    "-k 0 or a negative k: one line and exit 2, before any index is opened (the index path does not exist)."
    res = run(cmd, [query, "-k", k, "--index", str(tmp_path / "nope.faiss")], real_data_root, tmp_path)
    assert_one_line_error(res, f"-k {k} is out of range", "fix:")
    assert res.returncode == 2


@pytest.mark.parametrize("flag,value", [("--embedding", "clip"), ("--split", "holdout"), ("--limit", "-1")])
def test_index_refuses_bad_values_before_loading(real_data_root, tmp_path, flag, value):
    res = run("cxr-index", [flag, value, "--out", str(tmp_path / "idx")], real_data_root, tmp_path)
    assert_one_line_error(res, flag, repr(value) if flag != "--limit" else "out of range", "fix:")
    assert res.returncode == 2 and not (tmp_path / "idx").exists()


def test_help_names_every_embedding():
    "The embeddings are checked by check_args, not argparse choices (a refusal stays one line), so the help text names them."
    res = subprocess.run([cli("cxr-index"), "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and all(n in res.stdout for n in EMBEDDINGS), res.stdout
