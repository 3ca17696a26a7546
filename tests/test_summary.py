"The results dashboard, the runtime and parameter tables of `nbs/08_summary.ipynb`, the book pages' no-typed-numbers rule, and progress bars without tqdm's IProgress warning."
import json, re

import pytest

from conftest import ROOT
from cxr_lib.book import chapter_notebooks
from cxr_lib.classifier_eval import TARGETS as CLASSIFIER_TARGETS
from cxr_lib.summary import dashboard, parameters_table, parse_requirement, runtime_table
from cxr_lib.vqa_eval import TARGETS as VQA_TARGETS


def summary(folder: str) -> dict:
    return json.loads((ROOT / "results" / folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def table():
    return dashboard()


def rows_of(table, page: str):
    return table[table.page == page].set_index("result")


def test_classifier_rows_are_the_best_models_test_numbers(table):
    s = summary("classifier")
    best, rows = s["models"][s["best"]], rows_of(table, "nbs/03_classifier")
    for metric in ("roc_auc", "sensitivity", "specificity"):
        row = rows.loc[f"{s['best']}: {'ROC AUC' if metric == 'roc_auc' else metric}"]
        assert row.value == best["test"][metric]["value"]
        assert row.met == (best["test"][metric]["value"] >= CLASSIFIER_TARGETS[metric])
    ece = rows.loc[f"{s['best']}: ECE, calibrated"]
    assert ece.value == best["calibration"]["ece_calibrated"]["value"] and ece.target == f"≤ {CLASSIFIER_TARGETS['ece_calibrated']:g}"
    raw = rows.loc[f"{s['best']}: ECE, raw (no calibration; for comparison)"]
    assert raw.value == best["calibration"]["ece_uncalibrated"]["value"] and raw.target == "—" and raw.met is None
    budget = rows.loc[f"{s['best']}: training time, all of its runs"]  # judged on the chosen model: for the ensemble, every member's run
    assert budget.value == best["train_seconds"] and budget.met == (best["train_seconds"] <= CLASSIFIER_TARGETS["train_seconds"])


def test_vqa_rows_match_summary_and_its_own_verdicts(table):
    s, rows = summary("vqa"), rows_of(table, "nbs/05_vqa_evaluation")
    assert s["targets"] == VQA_TARGETS, "the VQA chapter's stored targets are the library's"
    for c, cat in s["categories"].items():
        for metric, verdict in (("sensitivity", "sensitivity"), ("specificity", "specificity"), ("ECE, calibrated", "ECE (calibrated)")):
            row = rows.loc[f"{c}: {metric}"]
            key = "ece_calibrated" if metric.startswith("ECE") else metric
            assert row.value == cat["test"][key]["value"] and row.met == s["targets_met"][c][verdict], (c, metric)
        auc = rows.loc[f"{c}: ROC AUC"]
        assert auc.value == cat["test"]["roc_auc"]["value"] and auc.met == s["yardstick"][c]["met"], c  # ≥ 0.93 and within 0.01 of the ensemble
    contradiction = rows.loc["films with contradictory answers"]
    assert contradiction.value == s["consistency"]["contradiction_rate"] and contradiction.met == (contradiction.value <= s["targets"]["contradiction_rate"])
    latency = rows.loc["median time to answer (batch 1)"]
    assert latency.value == s["latency_ms"]["median"] and latency.met == (s["latency_ms"]["median"] <= s["targets"]["median_latency_ms"])


def test_four_finding_rows_are_the_ensembles_test_numbers(table):
    s, rows = json.loads((ROOT / "results" / "classifier" / "four_finding" / "summary.json").read_text()), rows_of(table, "nbs/03c_four_finding")
    assert not any(r.startswith("normal:") for r in rows.index), "normal mirrors pneumonia (p_normal = 1 − p_pneumonia): its targets are counted once"
    for c, m in s["test"].items():
        if c == "normal": continue
        for metric, key in (("sensitivity", "sensitivity"), ("specificity", "specificity"), ("ECE, calibrated", "ece")):
            assert rows.loc[f"{c}: {metric}"].value == m[key]["value"], (c, metric)
        met = rows.loc[[f"{c}: sensitivity", f"{c}: specificity", f"{c}: ECE, calibrated"]].met.all()
        assert met == s["targets_met"][c], c  # the chapter's own verdict: both operating-point targets and the ECE target


def test_retrieval_rows_match_summary_and_its_own_verdicts(table):
    s, rows = summary("retrieval"), rows_of(table, "nbs/07_retrieval")
    best, k = s["best_embedding"].replace("_", " "), s["k"]  # the dashboard writes the embedding's name in words
    for n in (1, 5, k):
        assert rows.loc[f"{best}: image→image P@{n}"].value == s["embeddings"][s["best_embedding"]]["test"][f"precision_at_{n}"]["value"]
    verdicts = {name: v["met"] for name, v in s["targets"].items()}
    assert rows.loc[f"{best}: image→image P@{k}"].met == next(v for n, v in verdicts.items() if f"image→image P@{k}" in n)
    assert rows.loc[f"text→image P@{k}, mean over the queries"].met == next(v for n, v in verdicts.items() if f"text→image P@{k}" in n)


def test_report_rows_match_summary_when_task2_has_run(table):
    rows = rows_of(table, "nbs/06_report_generation")
    path = ROOT / "results" / "reports" / "summary.json"
    if not path.exists():
        assert len(rows) == 1 and rows.index[0].startswith("not measured yet") and rows.met.isna().all()
        return
    s = json.loads(path.read_text())
    best, test = s["best_strategy"], s["strategies"][s["best_strategy"]]["test"]
    assert rows.loc[f"{best}: agreement with the label"].value == test["accuracy"]["value"]
    assert rows.loc[f"{best}: hallucination rate"].value == test["hallucination_rate"]["value"]
    assert rows.loc[f"{best}: agreement with the label"].met == s["targets_met"]["accuracy"]
    assert rows.loc[f"{best}: hallucination rate"].met == s["targets_met"]["hallucination_rate"]


def test_runtime_and_parameter_tables_cover_every_chapter():
    chapters = [p.stem for p in chapter_notebooks(ROOT)]
    runtime = json.loads((ROOT / "results" / "runtime.json").read_text())
    t = runtime_table(runtime, chapters)
    assert list(t.index[:-2]) == chapters and t.iloc[-1].seconds == runtime["make_book_s"]
    assert t.iloc[-2].seconds == sum(runtime["chapters"][c] for c in chapters if c in runtime["chapters"])
    for c, s in runtime["chapters"].items():
        if c in chapters: assert t.loc[c, "seconds"] == s
    params = parameters_table(chapter_notebooks(ROOT))
    assert list(params.index) == chapters and (params["what smoke = True changes"] != "").all(), "every smoke line says what it does"
    assert "retrain = False" in params.loc["03_classifier", "other parameters (full-run defaults)"]


def test_requirement_text_is_parsed_strictly():
    assert parse_requirement("≥ 0.95") == ("≥", 0.95)
    with pytest.raises(Exception, match="cannot read"): parse_requirement("about 0.95")


NOT_PROSE = re.compile(r"\{glue:[a-z]+\}`[^`]*`|```\{glue\}[^`]*```|`[^`]*`|\]\([^)]*\)|CC BY[-A-Z]* \d\.\d|Apache-2\.0|\$[^$\n]+\$", re.S)  # glue, code, links, licence names, maths
DECIMAL = re.compile(r"(?<![\w.])(?<![A-Za-z]-)\d+\.\d+")  # a version after a name (LLaVA-1.6) is not a number
CODE_DECIMAL = re.compile(r"(?<![\w.])\d*\.\d+")
HAND_WORKED = re.compile(r"^(By hand|A hand-worked case|Checked by hand)")  # worked arithmetic, pinned by the test cell that follows it


@pytest.mark.parametrize("page", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.name)
def test_book_pages_type_no_decimals(page):
    "Numbers with a decimal point on a book page come from glue, never from the author's keyboard (code, links and glue roles excepted)."
    typed = re.findall(r".{0,30}\d+\.\d+", NOT_PROSE.sub("", page.read_text()))
    assert not typed, f"{page.name}: typed decimals in {typed}"


DEVELOPMENT_PHRASES = ("only PyPI", "can be downloaded here", "(no download)", "virtual machine", "../shared", "this machine", "this CPU", "this 2-core")


def reader_text(path):
    "What a page puts in front of a reader: a book page's text, or a notebook's markdown and text outputs (code is left out)."
    import nbformat
    if path.suffix == ".md": return [path.read_text()]
    texts = []
    for c in nbformat.read(path, as_version=4).cells:
        if c.cell_type == "markdown": texts.append(c.source)
        for o in c.get("outputs", []):
            texts += [o.get("text", "")] + [v for k, v in o.get("data", {}).items() if k.startswith("text/") and isinstance(v, str)]
    return texts


@pytest.mark.parametrize("page", sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "nbs").glob("[!.]*.ipynb")), ids=lambda p: p.name)
def test_pages_speak_of_the_study_not_of_the_build_machine(page):
    "No page speaks of the environment the study was built in (which packages were reachable, the development machine, the shared data folder)."
    found = sorted({p for t in reader_text(page) for p in DEVELOPMENT_PHRASES if p in t})
    assert not found, f"{page.name}: {found}"


def stated_numbers(nb) -> set[float]:
    "The decimals a notebook's code states (hand-worked test cases, parameters, criteria) and the study's criteria: prose may repeat these."
    from cxr_lib import classifier_eval, report_eval, vqa_eval
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    criteria = {float(v) for t in (classifier_eval.TARGETS, vqa_eval.TARGETS, report_eval.TARGETS) for v in t.values()}
    return {float(x) for x in CODE_DECIMAL.findall(code)} | criteria


@pytest.mark.parametrize("notebook", sorted((ROOT / "nbs").glob("[!.]*.ipynb")), ids=lambda p: p.name)
def test_notebook_prose_types_no_results(notebook):
    """A decimal in a notebook's markdown is glued, or a number its own code states (a parameter, a test case) or a criterion of
    the study, or part of a paragraph of hand-worked arithmetic; a measured result typed into prose fails."""
    import nbformat
    nb = nbformat.read(notebook, as_version=4); allowed = stated_numbers(nb)
    typed = [(i, prose[max(0, m.start() - 40):m.end()]) for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and not HAND_WORKED.match(c.source)
             for prose in [NOT_PROSE.sub("", c.source)] for m in DECIMAL.finditer(prose) if float(m.group()) not in allowed]
    assert not typed, f"{notebook.name}: typed decimals (cell, context) {typed}"


@pytest.mark.slow  # it starts a kernel
def test_notebook_progress_bars_raise_no_ipywidgets_warning(tmp_path):
    "In a kernel without ipywidgets (as papermill runs the book), importing the library and tqdm.auto prints no TqdmWarning."
    import nbformat, papermill as pm
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import cxr_lib.core\nfrom tqdm.auto import tqdm\nfor _ in tqdm(range(3)): pass")])
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False)
    streams = "".join(o.get("text", "") for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells for o in c.outputs)
    assert "3/3" in streams, "the text bar is still drawn"
    assert "TqdmWarning" not in streams and "IProgress" not in streams
