"""Taxonomy, human codes (Delve PDFs, CSV), stage coding and agreement."""

from __future__ import annotations

import json
import subprocess
import sys

import krippendorff
import numpy as np
import pandas as pd
import pytest

from analysis import ConfigError, load_corpus, load_taxonomy
from analysis._agreement import agreement, cohen_kappa, krippendorff_alpha_nominal
from analysis._codes import load_code_map, read_codes_folder, read_delve_pdf

from conftest import CORPUS, ROOT, SAMPLE, TRANSCRIPTS

TAXONOMY = ROOT / "config" / "stages.yaml"
CODE_MAP = ROOT / "config" / "code_stages.yaml"
IDS = ["data", "model_training", "model_evaluation", "model_deployment", "model_maintenance",
       "ml_pipeline_infrastructure", "quality_attributes", "other"]


def test_default_taxonomy_has_the_study_stages():
    taxonomy = load_taxonomy(TAXONOMY)
    assert taxonomy.ids == IDS
    assert all(s.description and s.cues for s in taxonomy.stages)
    assert set(taxonomy.kind_examples()) == {"issue", "fix"}


def test_taxonomy_is_data_a_researcher_edits(tmp_path):
    path = tmp_path / "stages.yaml"
    path.write_text("stages:\n  - {id: labels, name: Labels, description: labelling problems}\n"
                    "  - {id: serving, name: Serving, description: model serving}\n"
                    "kinds: {issue: [it broke], fix: [we fixed it]}\n")
    assert load_taxonomy(path).ids == ["labels", "serving"]
    path.write_text("stages:\n  - {id: labels, name: Labels}\nkinds: {issue: [a], fix: [b]}\n")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.description: required"):
        load_taxonomy(path)
    path.write_text("stages:\n  - {id: a, name: A, description: x}\n  - {id: a, name: B, description: y}\nkinds: {issue: [a], fix: [b]}\n")
    with pytest.raises(ConfigError, match="duplicate stage id 'a'"):
        load_taxonomy(path)


@pytest.mark.parametrize("code, expected", [
    ("Data-no-signal", ("data", "issue", "mapped")),
    ("QM-explainability-fix", ("quality_attributes", "fix", "mapped")),
    ("MLP-unstable-external-dependency", ("ml_pipeline_infrastructure", "issue", "mapped")),
    ("Stakeholders-lack-of-knowledge", ("other", "issue", "mapped")),
    ("Model-Evaluation-issues [ME]", ("model_evaluation", "issue", "mapped")),
    ("Model-Training-issues (MT)", ("model_training", "issue", "mapped")),
    ("Q7.2", (None, None, "question-id")),
    ("tabular-issue", ("data", "issue", "mapped")),
    ("how-to-evaluate-model", ("model_evaluation", "issue", "mapped")),
    ("feedback-loop", ("model_evaluation", "issue", "mapped")),
    ("stack-not-standardized", ("ml_pipeline_infrastructure", "issue", "mapped")),
    ("friction-separated-teams", ("other", "issue", "mapped")),
    ("last-question-answers", (None, None, "not-a-stage")),
    ("something-new", (None, None, "unmapped")),
])
def test_code_map(code, expected):
    assert load_code_map(CODE_MAP, IDS).classify(code) == expected


def test_code_map_rejects_unknown_stage(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("prefixes: {'Data-': dataa}\n")
    with pytest.raises(ConfigError, match=r"prefixes.Data-: stage 'dataa' is not in the taxonomy"):
        load_code_map(path, IDS)


def test_alpha_matches_the_krippendorff_package():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 300)
    b = np.where(rng.random(300) < 0.8, a, 1 - a)
    ours = krippendorff_alpha_nominal(a.tolist(), b.tolist())
    theirs = krippendorff.alpha(reliability_data=np.vstack([a, b]).astype(float), level_of_measurement="nominal")
    assert ours == pytest.approx(theirs, abs=1e-9)
    assert cohen_kappa([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0


def test_agreement_counts():
    ref = {"a": {"data"}, "b": set(), "c": {"data", "other"}, "d": {"other"}}
    pred = {"a": {"data"}, "b": {"data"}, "c": {"other"}, "d": set()}
    result = agreement(ref, pred, ["data", "other"])
    assert result["per_stage"]["data"]["tp"] == 1 and result["per_stage"]["data"]["fp"] == 1
    assert result["per_stage"]["data"]["fn"] == 1
    assert result["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert result["coded"]["reference_share"] == 0.75


def test_sample_csv_codes_are_read_and_mapped():
    turns = load_corpus(SAMPLE).turns
    human = read_codes_folder(ROOT / "data" / "raw" / "sample_codes", turns, load_code_map(CODE_MAP, IDS))
    assert len(human.codes) == len(pd.read_csv(ROOT / "data" / "raw" / "sample_codes" / "codes.csv"))
    assert set(human.codes["status"]) == {"mapped"}
    assert human.documents["has_codes"].all()
    assert (human.codes.groupby("interview_id")["turn_index"].min() >= 1).all()


def test_csv_errors_name_file_and_line(tmp_path):
    turns = load_corpus(SAMPLE).turns
    (tmp_path / "codes.csv").write_text("interview_id,turn_index,code\n101,3,Data-x\n101,999,Data-y\n")
    with pytest.raises(Exception, match=r"codes.csv, line 3: interview 101 has no turn 999"):
        read_codes_folder(tmp_path, turns, load_code_map(CODE_MAP, IDS))


@pytest.fixture(scope="module")
def turns():
    return load_corpus(TRANSCRIPTS).turns


@pytest.mark.corpus
class TestDelvePdfs:
    def test_tags_are_told_from_text_by_their_type(self):
        doc = read_delve_pdf(CORPUS / "coded" / "moderation" / "2023-06-04-Interview 11 - Amin.pdf")
        assert doc.interview_id == "11" and doc.has_codes
        texts = " ".join(t.text for t in doc.turns)
        assert "Data-no-signal" not in texts  # tags never leak into turn text
        assert any("Mm" in t.text or "hmm" in t.text for t in doc.turns)  # ...and "Mm-hmm" stays text
        tagged = [t for t in doc.turns if "MLP-unstable-external-dependency-fix" in t.codes]
        assert tagged and all(t.speaker in {"Interviewee", "Interviewer 1"} for t in tagged)

    def test_files_without_codes_say_so(self, turns):
        doc = read_delve_pdf(CORPUS / "coded" / "moderation" / "2023-06-04-Interview 20 - Mouna.txt.pdf")
        assert not doc.has_codes and len(doc.turns) > 100

    def test_every_turn_aligns_and_page_breaks_do_not_split_turns(self, turns):
        human = read_codes_folder(CORPUS / "coded" / "moderation", turns, load_code_map(CODE_MAP, IDS))
        docs = human.documents
        expected = turns.groupby("interview_id").size()
        for row in docs.itertuples():
            # every turn of the print finds its transcript turn; a transcript may hold one
            # or two more (interview 20 opens with an unlabelled "All" the print lacks; interview 3
            # has speaker headings on their own lines)
            assert row.aligned_turns == row.pdf_turns, row.source_file
            assert 0 <= expected[row.interview_id] - row.pdf_turns <= 2, row.source_file
        assert set(docs.loc[docs["has_codes"], "interview_id"]) == {"3", "9", "11", "13", "15", "30", "34", "43"}
        assert set(human.codes["status"]) <= {"mapped", "question-id", "not-a-stage"}
        # interview 34 was coded only in part: its coded range stops at about a third
        row = docs.set_index("interview_id").loc["34"]
        assert row.last_coded_turn < expected["34"] / 2
        assert not any("Amin" in f or "Mouna" in f for f in human.codes["source_file"])


@pytest.mark.slow
def test_cli_code_stages_and_evaluate_on_the_sample(tmp_path):
    import yaml

    config = tmp_path / "config" / "analysis.yaml"
    config.parent.mkdir()
    settings = yaml.safe_load((ROOT / "config" / "analysis.yaml").read_text())
    settings["paths"].update({"transcripts": str(SAMPLE), "processed": str(tmp_path / "processed"),
                              "codes": str(ROOT / "data" / "raw" / "sample_codes")})
    settings["stages"].update({"taxonomy": str(TAXONOMY), "code_map": str(CODE_MAP)})
    config.write_text(yaml.safe_dump(settings))
    run = lambda *args: subprocess.run([sys.executable, "-m", "analysis", "--config", str(config), *args],
                                       capture_output=True, text=True, cwd=tmp_path)
    out = tmp_path / "pred.csv"
    result = run("code-stages", "--transcripts", str(SAMPLE), "--out", str(out))
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(out, dtype={"interview_id": str}, keep_default_na=False)
    turns = load_corpus(SAMPLE).turns
    assert len(predictions) == (turns["role"] == "interviewee").sum()
    assert list(predictions.columns[:9]) == ["interview_id", "turn_id", "turn_index", "source_file", "line_start",
                                             "line_end", "text", "stages", "kind"]
    assert [c for c in predictions.columns if c.startswith("score_")] == [f"score_{s}" for s in IDS]
    stages = predictions["stages"].str.split(";").explode()
    assert set(stages) <= set(IDS) | {""}
    assert set(predictions.loc[predictions["stages"] == "", "kind"]) <= {""}
    assert set(predictions.loc[predictions["stages"] != "", "kind"]) <= {"issue", "fix"}
    # backchannels carry no stage of their own
    backchannel = predictions["text"].isin(["Yeah.", "Mm-hmm.", "Thanks.", "You're welcome.", "My pleasure."])
    assert (predictions.loc[backchannel, "stages"] == "").all()

    metrics = tmp_path / "metrics.json"
    result = run("evaluate", "--predictions", str(out), "--codes", str(ROOT / "data" / "raw" / "sample_codes"),
                 "--out", str(metrics))
    assert result.returncode == 0, result.stderr
    data = json.loads(metrics.read_text())
    assert data["overall"]["units"] > 30
    assert 0 <= data["overall"]["micro_f1"] <= 1
    # the same command with few-shot training on the sample's own codes
    result = run("code-stages", "--train-codes", str(ROOT / "data" / "raw" / "sample_codes"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "few-shot" in result.stdout or "zero-shot" in result.stdout
