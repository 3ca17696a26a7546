"The committed result files and notebooks agree with the data and come from full (not smoke) runs."
import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from cxr_lib.book import is_hidden_cell, chapter_notebooks
from cxr_lib.data import SPLITS, duplicate_counts, exact_duplicate_pairs, load_pneumoniamnist


def test_audit_json_matches_the_data(real_data_root):
    audit = json.loads((ROOT / "results" / "data" / "audit.json").read_text())
    data = load_pneumoniamnist(real_data_root)
    assert audit["smoke"] is False and audit["md5_ok"] is True
    assert audit["split_sizes"] == {"train": 4708, "val": 524, "test": 624}
    assert audit["positives"] == {s: int(data.labels[s].sum()) for s in SPLITS}
    assert audit["positives"]["test"] == 390
    assert audit["duplicates"]["exact"]["pairs"] == duplicate_counts(exact_duplicate_pairs(data))["pairs"]
    assert audit["duplicates"]["near"]["complete"] is True


@pytest.mark.parametrize("nb_path", chapter_notebooks(ROOT), ids=lambda p: p.stem)
def test_committed_notebook_is_a_full_run(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "smoke = False" in injected[0].source, f"{nb_path.name} was not executed by cxr-book at full parameters"
    assert any("parameters" in c.metadata.get("tags", []) for c in code)
    assert all(c.execution_count is not None for c in code if c.source.strip()), f"{nb_path.name} has unexecuted cells"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{nb_path.name} has error outputs"
    for c in code:
        if is_hidden_cell(c.source):
            assert "remove-cell" in c.metadata.get("tags", []), f"{nb_path.name}: a hidden cell lacks the remove-cell tag"


def test_subtypes_csv_meets_the_acceptance_criteria(real_data_root):
    from cxr_lib.subtypes import load_subtypes
    df = load_subtypes(path=ROOT / "results" / "subtypes" / "pneumoniamnist_subtypes.csv")
    assert list(df.columns) == ["split", "index", "label", "subtype", "patient", "source_file", "match_score", "margin", "confidence"]
    assert len(df) == 5856 and df.groupby("split").size().to_dict() == {"test": 624, "train": 4708, "val": 524}
    data = load_pneumoniamnist(real_data_root)
    for s in SPLITS:
        part = df[df.split == s].sort_values("index")
        assert (part["index"].values == np.arange(len(data.labels[s]))).all()
        assert (part.label.values == data.labels[s]).all(), f"{s}: labels in the CSV differ from the data"
    test_pneu = df[(df.split == "test") & (df.label == 1)]
    assert test_pneu.subtype.value_counts().to_dict() == {"bacteria": 242, "virus": 148}
    pneu = df[df.label == 1]
    assert (pneu.confidence == "high").mean() >= 0.99
    assert set(df.subtype) <= {"normal", "bacteria", "virus", "unknown"} and set(df.confidence) <= {"high", "low", "unmatched"}
    assert (df[df.label == 0].subtype == "normal").all() and not (df[df.label == 1].subtype == "normal").any()
    high = df[df.confidence == "high"]
    assert (high.patient != "").all() and (high.match_score >= 0.95).all()


def test_classifier_results_contract(real_data_root):
    "summary.json and the prediction CSVs: canonical shape, labels from the data, and every derived number recomputable."
    import pandas as pd
    from scipy.special import expit
    from sklearn.metrics import roc_auc_score
    from cxr_lib.calibration import ece
    from cxr_lib.metrics import threshold_for_sensitivity
    summary = json.loads((ROOT / "results" / "classifier" / "summary.json").read_text())
    data = load_pneumoniamnist(real_data_root)
    assert summary["best"] in summary["models"] and {"cnn", "vit", "efficientnet_lite0"} <= set(summary["models"])
    for name, entry in summary["models"].items():
        frames = {s: pd.read_csv(ROOT / "results" / "classifier" / name / f"{s}_predictions.csv") for s in ("val", "test")}
        for split, df in frames.items():
            assert list(df.columns) == ["index", "label", "logit", "prob", "prob_calibrated"]
            assert df["index"].tolist() == list(range(len(data.labels[split])))
            assert (df.label.to_numpy() == data.labels[split]).all()
            np.testing.assert_allclose(df.prob_calibrated, expit(df.logit / entry["temperature"]), rtol=1e-6)
        v, t = frames["val"], frames["test"]
        assert entry["threshold"] == pytest.approx(threshold_for_sensitivity(v.label, v.prob_calibrated, 0.95, 0.95))
        assert entry["test"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(t.label, t.prob_calibrated))
        pred = t.prob_calibrated >= entry["threshold"]
        assert entry["test"]["sensitivity"]["value"] == pytest.approx(pred[t.label == 1].mean())
        assert entry["test"]["specificity"]["value"] == pytest.approx(1 - pred[t.label == 0].mean())
        assert entry["calibration"]["ece_calibrated"]["value"] == pytest.approx(ece(t.label, t.prob_calibrated))
        assert entry["train_seconds"] > 0 and len(entry["seeds"]) >= (1 if name == "ensemble" else 3)
        assert all(m["lo"] <= m["value"] <= m["hi"] for m in entry["test"].values())
    vals = {n: e["val"]["roc_auc"] for n, e in summary["models"].items()}
    assert vals[summary["best"]] == max(vals.values()), "the best model is the one validation prefers"


def test_committed_checkpoints_reproduce_the_predictions(real_data_root):
    "The stored float16 weights give the committed logits: the CSVs come from the weights in models/."
    import pandas as pd
    from cxr_lib.classifier import Classifier, predict_logits
    summary = json.loads((ROOT / "results" / "classifier" / "summary.json").read_text())
    for ckpt in summary["models"]["efficientnet_lite0"]["checkpoints"]:  # weights not committed; config and history are
        assert (ROOT / "models" / ckpt).with_suffix(".json").is_file(), ckpt
    images = load_pneumoniamnist(real_data_root).images["test"][:48]
    for name in ("cnn", "vit"):  # EfficientNet weights are too large to commit; `make book` retrains them
        entry = summary["models"][name]
        model, _ = Classifier.from_pretrained(ROOT / "models" / entry["checkpoints"][0])
        committed = pd.read_csv(ROOT / "results" / "classifier" / name / "test_predictions.csv").logit[:48]
        np.testing.assert_allclose(predict_logits(model, images), committed, atol=2e-3, err_msg=name)


def test_eval_200_is_frozen_and_balanced(real_data_root):
    "results/vqa/eval_200.csv: 200 test questions, 25 yes + 25 no per category, held-out wordings, answers from the labels, md5 as recorded."
    import hashlib
    import pandas as pd
    from cxr_lib.vqa_data import CATEGORIES, QUESTIONS, pneumoniamnist_findings
    path = ROOT / "results" / "vqa" / "eval_200.csv"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert hashlib.md5(path.read_bytes()).hexdigest() == meta["md5"] and meta["version"] >= 1
    e = pd.read_csv(path)
    assert list(e.columns) == ["qid", "split", "index", "category", "question", "answer"] and len(e) == 200 and e.qid.is_unique
    assert set(e.split) == {"test"}
    assert (e.groupby(["category", "answer"]).size() == 25).all() and set(e.category) == set(CATEGORIES)
    assert all(q in QUESTIONS[c].held_out for c, q in zip(e.category, e.question))
    f = pneumoniamnist_findings("test", load_pneumoniamnist(real_data_root))
    assert all(f.loc[i, c] == a for i, c, a in zip(e["index"], e.category, e.answer))


def test_vqa_answer_files_cover_every_question(real_data_root):
    """{val,test}_answers.csv: every image × category with a known answer (val: the split drawn by child, each film at its official
    `split, index`), held-out wordings, labels from the data, probabilities in [0, 1]."""
    import pandas as pd
    from cxr_lib.splits import with_patient_split
    from cxr_lib.vqa_data import QUESTIONS, pneumoniamnist_findings
    data = load_pneumoniamnist(real_data_root)
    for split, d in (("val", with_patient_split(data)), ("test", data)):
        a = pd.read_csv(ROOT / "results" / "vqa" / f"{split}_answers.csv")
        assert list(a.columns) == ["split", "index", "category", "question", "label", "p_yes", "yes_no_mass", "latency_ms", "p_yes_calibrated"]
        f = pneumoniamnist_findings(split, d)
        keys = d.sources.get(split) or [(split, i) for i in range(len(f))]
        expected = {(*keys[i], c): int(v) for c in QUESTIONS for i, v in f[c].dropna().items()}
        assert {(s, i, c): l for s, i, c, l in zip(a.split, a["index"], a.category, a.label)} == expected and len(a) == len(expected)
        assert all(q in QUESTIONS[c].held_out for c, q in zip(a.category, a.question))
        assert a.p_yes.between(0, 1).all() and a.yes_no_mass.between(0, 1).all() and (a.latency_ms > 0).all()
    e = pd.read_csv(ROOT / "results" / "vqa" / "eval_200_answers.csv")
    assert len(e) == 200 and {"qid", "p_yes", "latency_ms"} <= set(e.columns)


def test_committed_vqa_weights_reproduce_the_answers(real_data_root):
    "The committed adapter and projector (float16) give the committed test answers."
    import pandas as pd
    from cxr_lib.backends import CompactBackend
    from cxr_lib.vlm import CompactVLM
    summary = json.loads((ROOT / "results" / "vqa" / "model_summary.json").read_text())
    model, _ = CompactVLM.from_pretrained(ROOT / "models" / "vqa" / summary["checkpoint"])
    a = pd.read_csv(ROOT / "results" / "vqa" / "test_answers.csv").iloc[::150]
    p, _ = CompactBackend(model).score(load_pneumoniamnist(real_data_root).images["test"][a["index"].to_numpy()], a.question.tolist())
    np.testing.assert_allclose(p, a.p_yes, atol=2e-4)


def test_task1_operating_point_stored_with_the_weights():
    "The Task-1 CNN's temperature and threshold sit beside its weights and equal the chapter's validation choice in summary.json."
    from cxr_lib.classifier import task1_checkpoint, task1_operating_point
    summary = json.loads((ROOT / "results" / "classifier" / "summary.json").read_text())["models"]["cnn"]
    point = task1_operating_point()
    assert task1_checkpoint().with_suffix(".operating_points.json").is_file()
    assert (point["temperature"], point["threshold"]) == (summary["temperature"], summary["threshold"])


def test_four_finding_operating_points_stored_with_the_weights():
    "The four-finding ensemble's threshold and temperature sit beside its members' weights, equal the chapter's summary, and name its runs."
    from cxr_lib.four_finding import ensemble_operating_points, ensemble_points_path
    summary = json.loads((ROOT / "results" / "classifier" / "four_finding" / "summary.json").read_text())
    points = ensemble_operating_points()
    assert (points["threshold"], points["temperature"]) == (summary["thresholds"]["pneumonia"], summary["calibration"]["temperature_val"])
    runs = [f"seed{r['seed']}-{r['key']}" for r in summary["runs"] if r["recipe"] == "four-finding"]
    assert points["members"] == runs and all((ensemble_points_path().parent / f"{r}.safetensors").is_file() for r in runs)


def test_vqa_operating_points_stored_with_the_model():
    "The thresholds and calibrators chosen on validation live beside the VQA weights, equal summary.json's, and reproduce every committed calibrated answer."
    import pandas as pd
    from cxr_lib.backends import calibrate, operating_points
    from cxr_lib.vqa_eval import POINT_FIELDS
    summary = json.loads((ROOT / "results" / "vqa" / "summary.json").read_text())
    points = operating_points(ROOT / "models" / "vqa" / summary["checkpoint"])
    assert points["fitted_on"] == "validation" and points["rule"] == summary["threshold_rule"]
    assert points["categories"] == {c: {k: e[k] for k in POINT_FIELDS} for c, e in summary["categories"].items()}
    for name in ("val", "test", "eval_200"):
        f = pd.read_csv(ROOT / "results" / "vqa" / f"{name}_answers.csv")
        for c, g in f.groupby("category"):
            np.testing.assert_allclose(calibrate(c, g.p_yes.to_numpy(), points), g.p_yes_calibrated, atol=1e-6)


def test_vqa_evaluation_contract():
    "results/vqa/summary.json has the agreed shape, and its calibrators and thresholds reproduce p_yes_calibrated and the test sensitivity/specificity from the answer files."
    import pandas as pd
    from scipy.special import expit, logit
    summary = json.loads((ROOT / "results" / "vqa" / "summary.json").read_text())
    assert not summary["smoke"] and set(summary["categories"]) == {"pneumonia", "bacterial", "viral", "normal"}
    assert summary["latency_ms"]["p90"] >= summary["latency_ms"]["median"] > 0 and summary["saliency"]
    files = {name: pd.read_csv(ROOT / "results" / "vqa" / f"{name}_answers.csv") for name in ("val", "test", "eval_200")}
    for name, frame in files.items():
        assert frame.p_yes_calibrated.between(0, 1).all(), name
        for c, s in summary["categories"].items():
            f = frame[frame.category == c]
            z = logit(np.clip(f.p_yes.to_numpy(), 1e-6, 1 - 1e-6))
            expected = expit(z / s["temperature"]) if s["calibrator"] == "temperature" else expit(s["platt"]["a"] * z + s["platt"]["b"])
            np.testing.assert_allclose(f.p_yes_calibrated, expected, atol=2e-6, err_msg=f"{name}/{c}")
    for split, frame, label in (("test", files["test"], "label"), ("eval_200", files["eval_200"], "answer")):
        for c, s in summary["categories"].items():
            f = frame[frame.category == c]
            said = f.p_yes_calibrated >= s["threshold"]
            assert s[split]["n"] == len(f)
            assert abs((said & (f[label] == 1)).sum() / (f[label] == 1).sum() - s[split]["sensitivity"]["value"]) < 1e-9
            assert abs((~said & (f[label] == 0)).sum() / (f[label] == 0).sum() - s[split]["specificity"]["value"]) < 1e-9
            for key in ("roc_auc", "sensitivity", "specificity"):  # (a binned ECE's bootstrap is biased upwards: its interval may sit above the estimate)
                assert s[split][key]["lo"] <= s[split][key]["value"] <= s[split][key]["hi"], (split, c, key)
def test_retrieval_results_contract(real_data_root):
    "neighbors.csv per embedding (k = 10, self excluded) and text_queries.csv agree with summary.json: every precision recomputable from them."
    import pandas as pd
    from cxr_lib.embeddings import EMBEDDINGS
    from cxr_lib.retrieval import TEXT_QUERIES, chance_precision
    folder = ROOT / "results" / "retrieval"
    s = json.loads((folder / "summary.json").read_text())
    y = load_pneumoniamnist(real_data_root).labels["test"]
    assert s["smoke"] is False and s["k"] == 10 and s["n_queries"] == 624 and s["self_excluded"] is True and s["gallery"] == "test"
    assert abs(s["chance_precision"] - chance_precision(y)) < 1e-12 and abs(s["chance_precision"] - (0.625 ** 2 + 0.375 ** 2)) < 0.002
    assert s["best_embedding"] in EMBEDDINGS
    for name in EMBEDDINGS:
        nb = pd.read_csv(folder / name / "neighbors.csv")
        assert list(nb.columns) == ["query_index", "rank", "neighbor_index", "score"]
        assert len(nb) == 624 * 10 and set(nb.query_index) == set(range(624)) and (nb.groupby("query_index").size() == 10).all()
        assert (nb.query_index != nb.neighbor_index).all(), f"{name}: a query is its own neighbour"
        assert (nb.groupby("query_index")["rank"].apply(tuple) == tuple(range(1, 11))).all()
        assert (nb.groupby("query_index").score.diff().dropna() <= 1e-9).all(), f"{name}: scores not in descending order"
        assert not nb.duplicated(["query_index", "neighbor_index"]).any()
        test = s["embeddings"][name]["test"]
        for k in (1, 5, 10):
            top = nb[nb["rank"] <= k]
            p = (y[top.neighbor_index.to_numpy()] == y[top.query_index.to_numpy()]).mean()
            assert abs(p - test[f"precision_at_{k}"]["value"]) < 1e-9, f"{name}: P@{k} in summary.json differs from neighbors.csv"
        for m, v in test.items(): assert v["lo"] <= v["value"] <= v["hi"], f"{name} {m}: value outside its interval"
        assert test["precision_at_10"]["value"] > s["chance_precision"]
    t = pd.read_csv(folder / "text_queries.csv")
    assert list(t.columns) == ["query", "rank", "neighbor_index", "score"] and len(t) == 10 * len(TEXT_QUERIES)
    by_query = {q["query"]: q for q in s["text_to_image"]["queries"]}
    for q in TEXT_QUERIES:
        rows = t[t["query"] == q.text].sort_values("rank")
        assert rows["rank"].tolist() == list(range(1, 11))
        assert abs((y[rows.neighbor_index.to_numpy()] == q.label).mean() - by_query[q.text]["precision_at_10"]) < 1e-9
    assert abs(np.mean([by_query[q.text]["precision_at_10"] for q in TEXT_QUERIES]) - s["text_to_image"]["mean_precision_at_10"]) < 1e-9
    assert s["ann"][0]["recall_at_10"] == 1.0 and all(0 <= a["recall_at_10"] <= 1 for a in s["ann"])
    assert {"image", "text"} == set(s["latency"]) and all(v["search_median_ms"] > 0 for v in s["latency"].values())
    assert len(s["targets"]) == 4 and all(isinstance(v["met"], bool) for v in s["targets"].values())


def test_committed_projection_reproduces_the_neighbours(real_data_root):
    "The committed dual-encoder projection (with the committed Task-1 CNN) gives the committed nearest neighbours."
    import pandas as pd
    from cxr_lib.embeddings import load_embedder
    emb = load_embedder("dual_encoder")
    v = emb.images(load_pneumoniamnist(real_data_root).images["test"])
    sim = v @ v.T; np.fill_diagonal(sim, -np.inf)
    nb = pd.read_csv(ROOT / "results" / "retrieval" / "dual_encoder" / "neighbors.csv")
    top1 = nb[nb["rank"] == 1].sort_values("query_index")
    assert (sim.argmax(1) == top1.neighbor_index.to_numpy()).mean() > 0.97  # float ties may swap a few
    np.testing.assert_allclose(sim.max(1), top1.score.to_numpy(), atol=1e-4)


def _report_files():
    folder = ROOT / "results" / "reports"
    summary = json.loads((folder / "summary.json").read_text())
    return summary, {split: pd.read_json(folder / f"{split}_reports.jsonl", lines=True) for split in ("val", "test")}


def test_report_results_contract(real_data_root):
    "test_reports.jsonl covers every test image × strategy; labels, read-back labels, unsupported findings, scores and the choice recompute from it."
    from cxr_lib.report_eval import REPORT_COLUMNS, TARGETS
    from cxr_lib.report_labels import checklist_report, contradictions, label_text, unsupported_findings
    from cxr_lib.reports import STRATEGIES, vqa_thresholds
    summary, files = _report_files()
    test = files["test"]
    assert not summary["smoke"] and set(summary["strategies"]) == set(STRATEGIES) and summary["targets"] == TARGETS
    assert set(REPORT_COLUMNS) <= set(test.columns) and len(test) == 624 * len(STRATEGIES)
    data = load_pneumoniamnist(real_data_root)
    for s, g in test.groupby("strategy"):
        assert sorted(g["index"]) == list(range(624)), s
        assert (g.sort_values("index").label.to_numpy() == data.labels["test"]).all(), s
        read = [label_text(r) for r in g.report]
        assert [l.pneumonia for l in read] == [None if v != v else int(v) for v in g.report_label], s
        assert [unsupported_findings(r) for r in g.report] == g.unsupported.tolist(), s
        reported = g.report_label.fillna(-1).to_numpy(int)
        scored = summary["strategies"][s]["test"]
        assert abs((reported == g.label.to_numpy()).mean() - scored["accuracy"]["value"]) < 1e-12, s
        assert abs(g.unsupported.map(bool).mean() - scored["unsupported_rate"]["value"]) < 1e-12, s
        given = g.contradictions.notna().all()
        assert given == STRATEGIES[s].reads_answers and (given or g.contradictions.isna().all()), s
        said = g.contradictions.map(lambda c: bool(c) if isinstance(c, list) else False)
        assert abs((g.unsupported.map(bool) | said).mean() - scored["hallucination_rate"]["value"]) < 1e-12, s
        assert scored["distinct"] == g.report.nunique(), s
    answers = pd.read_csv(ROOT / "results" / "vqa" / "test_answers.csv").pivot(index="index", columns="category", values="p_yes_calibrated")
    thresholds = vqa_thresholds()
    template = test[test.strategy == "template"].set_index("index").report
    assert all(template[i] == checklist_report(answers.loc[i].to_dict(), thresholds) for i in range(0, 624, 25))
    by_index = answers.to_dict("index")
    for s in ("checklist", "checklist_checked", "template"):  # the contradictions recompute from the report and its answers
        g = test[test.strategy == s].set_index("index")
        assert all(g.contradictions[i] == contradictions(g.report[i], by_index[i], thresholds) for i in range(0, 624, 13)), s
    assert test[test.strategy.isin(["checklist_checked", "template"])].contradictions.map(len).sum() == 0
    faithful = {s: v["val"] for s, v in summary["strategies"].items() if v["uses_lm"] and v["val"]["hallucination_rate"]["value"] <= TARGETS["hallucination_rate"]}
    top = max(faithful, key=lambda s: faithful[s]["accuracy"]["value"]) if faithful else None
    beats = top is not None and faithful[top]["accuracy_gain_over_control"]["lo"] > 0
    assert summary["best_strategy"] == (top if beats else "template")
    best = summary["strategies"][summary["best_strategy"]]["test"]
    assert summary["targets_met"] == {"accuracy": best["accuracy"]["value"] >= TARGETS["accuracy"],
                                      "hallucination_rate": best["hallucination_rate"]["value"] <= TARGETS["hallucination_rate"]}


def test_committed_report_adapter_reproduces_the_reports(real_data_root):
    "The committed report adapter (float16), decoding greedily, writes the committed checklist reports of the first batch again."
    from cxr_lib.reports import STRATEGIES, Decoding, generate_reports, instruction_for, load_report_model, vqa_thresholds
    summary, files = _report_files()
    model, _ = load_report_model(ROOT / "models" / "reports" / summary["adapter"]["name"])
    model.lm.merge_adapter()
    rows = files["test"][files["test"].strategy == "checklist"].sort_values("index").head(8)
    answers = pd.read_csv(ROOT / "results" / "vqa" / "test_answers.csv").pivot(index="index", columns="category", values="p_yes_calibrated")
    prompts = [instruction_for(STRATEGIES["checklist"], answers.loc[i].to_dict(), vqa_thresholds()) for i in rows["index"]]
    assert prompts == rows.prompt.tolist()
    images = load_pneumoniamnist(real_data_root).images["test"][rows["index"].to_numpy()]
    again = generate_reports(model, model.features(images), prompts, Decoding(summary["decoding"]["max_new_tokens"]), batch_size=8, progress=False)
    assert sum(a == b for a, b in zip(again, rows.report)) >= 7  # greedy decoding at another batch size may flip a near-tie


def test_no_tracked_file_exceeds_2_mib():
    import subprocess
    files = subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True, cwd=ROOT).stdout.split("\0")
    big = [f for f in files if f and (ROOT / f).is_file() and (ROOT / f).stat().st_size > 2 * 2 ** 20]
    assert not big, f"tracked files over 2 MiB: {big}"


def test_validation_split_is_frozen_and_patient_disjoint():
    "validation_split.csv: its md5 matches, it covers train + val once, about the official val size, and no child sits on both sides."
    from cxr_lib.core import md5sum
    from cxr_lib.splits import load_validation_split, patient_key
    from cxr_lib.subtypes import load_subtypes
    path = ROOT / "results" / "data" / "validation_split.csv"
    assert json.loads(path.with_suffix(".json").read_text())["md5"] == md5sum(path)
    split = load_validation_split(path)
    assert list(split.columns) == ["split", "index", "role"] and set(split.role) == {"train", "val"}
    assert len(split) == 4708 + 524 and not split.duplicated(["split", "index"]).any()
    assert abs((split.role == "val").sum() - 524) <= 10
    films = load_subtypes(path=ROOT / "results" / "subtypes" / "pneumoniamnist_subtypes.csv").merge(split, on=["split", "index"])
    val = films[films.role == "val"]
    assert (val.patient != "").all(), "every validation film belongs to a recovered child"
    children = {r: set(films[(films.role == r) & (films.patient != "")].patient.map(patient_key)) for r in ("train", "val")}
    assert not children["train"] & children["val"]
    shares = films.groupby("role").subtype.value_counts(normalize=True).unstack().fillna(0)
    assert (shares.loc["val", ["normal", "bacteria", "virus"]] - shares.loc["train", ["normal", "bacteria", "virus"]]).abs().max() < 0.03  # stratified


def test_four_finding_results_contract(real_data_root):
    "four_finding/{val,test}_predictions.csv and summary.json: canonical columns, calibrated rows summing to 1, and the summary's test numbers recomputable at its thresholds."
    from sklearn.metrics import roc_auc_score
    from cxr_lib.calibration import ece
    from cxr_lib.splits import load_validation_split
    folder = ROOT / "results" / "classifier" / "four_finding"
    summary = json.loads((folder / "summary.json").read_text())
    assert not summary["smoke"] and len(summary["seeds"]) >= 3
    assert set(summary["thresholds"]) >= {"pneumonia", "bacterial", "viral", "normal"}
    data = load_pneumoniamnist(real_data_root)
    split = load_validation_split(ROOT / "results" / "data" / "validation_split.csv")
    frames = {s: pd.read_csv(folder / f"{s}_predictions.csv") for s in ("val", "test")}
    for s, df in frames.items():
        assert list(df.columns) == ["split", "index", "label", "subtype", "p_normal", "p_bacterial", "p_viral"]
        np.testing.assert_allclose(df[["p_normal", "p_bacterial", "p_viral"]].sum(axis=1), 1, atol=1e-5)
        for official, rows in df.groupby("split"): assert (rows.label.to_numpy() == data.labels[official][rows["index"].to_numpy()]).all()
        assert ((df.subtype == "normal") == (df.label == 0)).all()
    val_keys = set(map(tuple, split[split.role == "val"][["split", "index"]].to_numpy().tolist()))
    assert set(zip(frames["val"].split, frames["val"]["index"])) == val_keys
    t = frames["test"]; assert t["index"].tolist() == list(range(624))
    scores = {"pneumonia": t.p_bacterial + t.p_viral, "bacterial": t.p_bacterial, "viral": t.p_viral, "normal": t.p_normal}
    truth = {"pneumonia": t.label, "bacterial": (t.subtype == "bacteria").astype(int), "viral": (t.subtype == "virus").astype(int), "normal": 1 - t.label}
    for k, entry in summary["test"].items():
        yes = scores[k] >= summary["thresholds"][k] if k != "normal" else ~(scores["pneumonia"] >= summary["thresholds"]["pneumonia"])
        assert entry["sensitivity"]["value"] == pytest.approx(yes[truth[k] == 1].mean())
        assert entry["specificity"]["value"] == pytest.approx(1 - yes[truth[k] == 0].mean())
        assert entry["roc_auc"]["value"] == pytest.approx(roc_auc_score(truth[k], scores[k]), abs=1e-4)  # the CSV keeps six decimals: a few near-ties flip
        assert entry["ece"]["value"] == pytest.approx(ece(truth[k], scores[k]), abs=1e-4)
        assert summary["targets_met"][k] == (entry["sensitivity"]["value"] >= 0.80 and entry["specificity"]["value"] >= 0.85 and entry["ece"]["value"] < 0.05)
    assert summary["calibration"]["chosen"] in summary["calibration"]["families"]
    proxy = {n: f["proxy_mean_ece"] for n, f in summary["calibration"]["families"].items() if f["proxy_mean_ece"] is not None}
    assert summary["calibration"]["chosen"] == min(proxy, key=proxy.get), "the family is the one the proxy shift prefers"
    assert all(n not in proxy for n in summary["calibration"]["families"] if n.startswith("oracle")), "the oracle row never takes part in the choice"
    for r in summary["runs"]:  # every run the chapter used is committed
        sub = "cnn_four_finding" if r["recipe"].startswith("four") else "cnn"
        assert (ROOT / "models" / "classifier" / sub / f"seed{r['seed']}-{r['key']}.safetensors").is_file(), r


def test_token_sweep_matches_its_answers(real_data_root):
    """results/vqa/token_sweep.csv: one run per image-token count, at the sweep's configuration; each run's validation AUCs recomputed (scikit-learn)
    from token_sweep_val_answers.csv, which holds every validation question once per count."""
    from sklearn.metrics import roc_auc_score
    from cxr_lib.splits import with_patient_split
    from cxr_lib.vqa_data import CATEGORIES, pneumoniamnist_findings
    from cxr_lib.vqa_sweep import sweep_config
    runs = pd.read_csv(ROOT / "results" / "vqa" / "token_sweep.csv", dtype={"key": str})
    answers = pd.read_csv(ROOT / "results" / "vqa" / "token_sweep_val_answers.csv")
    assert runs.image_tokens.tolist() == [9, 16, 49]
    assert runs.key.tolist() == [sweep_config(t, int(f)).key() for t, f in zip(runs.image_tokens, runs.films)]
    n_questions = int(pneumoniamnist_findings("val", with_patient_split(load_pneumoniamnist(real_data_root)))[list(CATEGORIES)].notna().sum().sum())
    for run in runs.itertuples():
        a = answers[answers.image_tokens == run.image_tokens]
        assert len(a) == n_questions and not a.duplicated(["index", "category"]).any()
        for c in CATEGORIES:
            g = a[a.category == c]
            assert roc_auc_score(g.answer, g.p_yes) == pytest.approx(getattr(run, c), abs=1e-9), (run.image_tokens, c)


def test_site_results_contract():
    """results/site/curve.csv has the agreed columns, 200 draws per site size, and its n = 0 rows are the committed answers scored
    by scikit-learn; the threshold-free reading reproduces from the answer files; summary.json has the agreed keys."""
    import pandas as pd
    from sklearn.metrics import confusion_matrix, roc_curve
    curve = pd.read_csv(ROOT / "results" / "site" / "curve.csv")
    summary = json.loads((ROOT / "results" / "site" / "summary.json").read_text())
    assert list(curve.columns) == ["model", "category", "n", "draw", "sensitivity", "specificity", "ece", "contradiction"]
    assert {"estimators", "label_free_choice", "smallest_n", "threshold_free"} <= set(summary) and not summary["smoke"]
    assert sorted(curve.n.unique()) == [0, 10, 25, 50, 100, 200]
    draws = curve[curve.n > 0].groupby(["model", "category", "n"]).draw.nunique()
    assert (draws >= 200).all() and set(curve.model) == {"VQA model", "four-finding ensemble", "Task 1 ensemble"}
    answers = pd.read_csv(ROOT / "results" / "vqa" / "test_answers.csv")
    for c in ("pneumonia", "bacterial", "viral", "normal"):
        f = answers[answers.category == c]
        tn, fp, fn, tp = confusion_matrix(f.label, f.p_yes_calibrated >= 0.5).ravel()
        row = curve[(curve.model == "VQA model") & (curve.category == c) & (curve.n == 0)].iloc[0]
        assert abs(row.sensitivity - tp / (tp + fn)) < 1e-6 and abs(row.specificity - tn / (tn + fp)) < 1e-6, c
        fpr, tpr, _ = roc_curve(f.label, f.p_yes_calibrated)
        tf = summary["threshold_free"]["VQA model"][c]
        assert abs(tf["sensitivity_at_specificity_0.85"]["value"] - tpr[fpr <= 0.15].max()) < 1e-6, c
        assert tf["sensitivity_at_specificity_0.85"]["lo"] <= tf["sensitivity_at_specificity_0.85"]["value"] <= tf["sensitivity_at_specificity_0.85"]["hi"]
    held = curve[curve.n > 0]
    assert held.sensitivity.between(0, 1).all() and held.ece.between(0, 1).all()
    assert summary["estimators"]["chosen"] in summary["estimators"]["proxy_mean_absolute_error"]


def test_resolution_results_contract():
    """results/classifier/resolution: four arms, each film's probabilities summing to 1, the compared films exactly the re-cut
    test films, and summary.json's pneumonia AUC reproduced by scikit-learn from the per-film file."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    folder = ROOT / "results" / "classifier" / "resolution"
    frame = pd.read_csv(folder / "test_predictions.csv")
    summary = json.loads((folder / "summary.json").read_text())
    assert list(frame.columns) == ["films", "split", "index", "label", "subtype", "scored", "p_normal", "p_bacterial", "p_viral"]
    assert set(frame.films) == set(summary["arms"]) == {"28 px, official", "28 px, rebuilt", "64 px, rebuilt", "128 px, rebuilt"}
    assert (frame.groupby("films").size() == 624).all()
    assert abs(frame[["p_normal", "p_bacterial", "p_viral"]].sum(axis=1) - 1).max() < 1e-4
    assert int(frame[frame.films == "28 px, official"].scored.sum()) == summary["rebuild"]["test_films_scored"]
    assert summary["validation_choice"] in summary["arms"] and all(len(a["seeds"]) == 3 for a in summary["arms"].values())
    for arm, f in frame[frame.scored].groupby("films"):
        auc = roc_auc_score(f.label, f.p_bacterial + f.p_viral)
        assert abs(auc - summary["arms"][arm]["test"]["pneumonia"]["roc_auc"]["value"]) < 1e-4, arm
