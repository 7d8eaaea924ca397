"""Human codes (Delve PDFs, CSV) mapped to stages, and the agreement metrics."""

from __future__ import annotations

import hashlib
import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

from analysis import ConfigError, load_corpus
from analysis._ids import natural_sorted
from analysis.human_codes import (
    agreement,
    cohen_kappa,
    krippendorff_alpha_nominal,
    load_code_map,
    read_codes_folder,
    read_delve_pdf,
    training_labels,
)
from conftest import CODE_MAP, CORPUS, SAMPLE, SAMPLE_CODES, STAGE_IDS, TRANSCRIPTS

IDS = STAGE_IDS  # the stage ids of config/taxonomy.yaml


@pytest.mark.parametrize(
    "code, expected",
    [
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
    ],
)
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


def _draws_by_agreement(reference, other, interview_of, stage_ids, resamples, seed):
    """The interview bootstrap the plain way: agreement() on each resample's units."""
    by_interview = {}
    for unit in sorted(reference):
        by_interview.setdefault(interview_of[unit], []).append(unit)
    interviews = natural_sorted(by_interview)
    rng = np.random.default_rng(seed)
    draws = {"macro_f1": [], "micro_f1": [], "alpha": [], "coded_kappa": []}
    for _ in range(resamples):
        ref, oth = {}, {}
        for k, interview in enumerate(rng.choice(interviews, size=len(interviews), replace=True)):
            for unit in by_interview[interview]:
                ref[f"{k}|{unit}"], oth[f"{k}|{unit}"] = reference[unit], other[unit]
        result = agreement(ref, oth, stage_ids)
        figures = (result["macro_f1"], result["micro_f1"], result["alpha"], result["coded"]["kappa"])
        for key, value in zip(draws, figures):
            if value is not None and value == value:
                draws[key].append(value)
    return by_interview, interviews, draws


@pytest.mark.parametrize("seed", range(12))
def test_the_interview_bootstrap_from_counts_gives_agreements_own_figures(seed):
    from analysis.human_codes._agreement import _interview_draws, interview_intervals

    rng = np.random.default_rng(seed)
    reference, other, interview_of = {}, {}, {}
    share = rng.uniform(0.0, 0.5)  # from codings with no positive at all (alpha undefined) up
    for interview in range(int(rng.integers(3, 8))):
        for k in range(int(rng.integers(1, 25))):
            unit = f"{interview}-{k}"
            interview_of[unit] = str(interview)
            reference[unit] = {s for s in IDS if rng.random() < share}
            agrees = rng.random() < 0.6
            other[unit] = set(reference[unit]) if agrees else {s for s in IDS if rng.random() < share}
    by_interview, interviews, expected = _draws_by_agreement(reference, other, interview_of, IDS, 60, seed)
    # exactly the same floats, resample by resample, undefined figures left out alike
    assert _interview_draws(by_interview, interviews, reference, other, IDS, 60, seed) == expected
    got = interview_intervals(reference, other, interview_of, IDS, resamples=60, seed=seed)
    assert got["interviews"] == len(interviews) and got["resamples"] == 60


def test_sample_csv_codes_are_read_and_mapped():
    turns = load_corpus(SAMPLE).turns
    human = read_codes_folder(SAMPLE_CODES, turns, load_code_map(CODE_MAP, IDS))
    assert len(human.codes) == len(pd.read_csv(SAMPLE_CODES / "codes.csv"))
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


@pytest.fixture(scope="module")
def print_cache(tmp_path_factory):
    """One cache for the module's reads of the moderation prints: each is read once."""
    return tmp_path_factory.mktemp("delve-prints")


# sha256 of what pdfplumber (pdfminer) read from the 18 moderation prints (file name, title,
# and every turn's speaker, text, codes and page) before the reader moved to PDFium, which
# must read the same (it did on all 54 prints of coded/moderation and coded/codings)
PDFPLUMBER_READING_SHA256 = "f0e65b2802b3480c3cb3240c50c7a145f7d4cb4edf9277b8502e7ddaa30fe9a8"


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

    def test_prints_are_read_as_pdfplumber_read_them(self, print_cache):
        prints = sorted((CORPUS / "coded" / "moderation").glob("*.pdf"))
        docs = [read_delve_pdf(path, print_cache) for path in prints]
        reading = [[d.path.name, d.title, [vars(t) for t in d.turns]] for d in docs]
        digest = hashlib.sha256(json.dumps(reading, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
        summary = [(d.path.name, len(d.turns), sum(len(t.codes) for t in d.turns)) for d in docs]
        assert len(docs) == 18 and digest == PDFPLUMBER_READING_SHA256, summary

    def test_every_turn_aligns_and_page_breaks_do_not_split_turns(self, turns, print_cache):
        human = read_codes_folder(
            CORPUS / "coded" / "moderation", turns, load_code_map(CODE_MAP, IDS), cache_dir=print_cache
        )
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


def test_training_labels_keep_each_coder_of_an_interview():
    answers = pd.DataFrame({"interview_id": ["7"] * 4, "turn_id": ["a", "b", "c", "d"], "turn_index": [1, 2, 3, 4]})
    codes = pd.DataFrame(
        {
            "interview_id": ["7", "7", "7"],
            "source_file": ["c1.pdf", "c1.pdf", "c2.pdf"],
            "turn_index": [1, 3, 3],
            "stage": ["data", "data", "model_evaluation"],
            "status": "mapped",
            "kind": "issue",
        }
    )
    documents = pd.DataFrame(
        {
            "interview_id": ["7", "7"],
            "source_file": ["c1.pdf", "c2.pdf"],
            "has_codes": True,
            "first_coded_turn": [1, 3],
            "last_coded_turn": [3, 3],
        }
    )
    assert training_labels(answers, codes, documents, ["data", "model_evaluation"]) == [
        {"a": {"data"}, "b": set(), "c": {"data"}},
        {"c": {"model_evaluation"}},
    ]


@pytest.mark.corpus
def test_a_cached_delve_print_reads_back_the_same_without_opening_the_pdf(tmp_path, monkeypatch):
    import pypdfium2

    path = CORPUS / "coded" / "moderation" / "2023-06-04-Interview 11 - Amin.pdf"
    first = read_delve_pdf(path, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 1

    def no_pdf(*_args, **_kwargs):
        raise AssertionError("the PDF was parsed again")

    monkeypatch.setattr(pypdfium2, "PdfDocument", no_pdf)
    again = read_delve_pdf(path, tmp_path)
    assert (again.interview_id, again.coder, again.title) == (first.interview_id, first.coder, first.title)
    assert again.turns == first.turns and again.has_codes
    # another file is another key: it is parsed, not served from the cache
    with pytest.raises(AssertionError, match="parsed again"):
        read_delve_pdf(CORPUS / "coded" / "moderation" / "2023-06-04-Interview 20 - Mouna.txt.pdf", tmp_path)
