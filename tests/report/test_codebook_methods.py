"""Theme findings without meta-talk, representative quotes, the codebook and the methods
page, on a real run of the sample (and the human-agreement figures on the corpus)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from analysis import agreement_step, load_config
from analysis.report import (
    NO_REFERENCE_CODES,
    REFERENCE_HUMAN_AGREEMENT,
    agreement_page,
    agreement_without_codes,
    best_excerpt,
    codebook_for,
    methods_summary,
    quote_clarity,
    theme_quotes,
    theme_tables_for,
)
from analysis.stages import load_taxonomy, stage_list
from conftest import CORPUS, ROOT, TAXONOMY


@pytest.fixture(scope="module")
def run(sample_run):
    cfg, config = sample_run
    agreement_step(cfg)  # agreement.json, as notebook 06 writes it
    return cfg, config


def _turn_holding(turns: pd.DataFrame, source: str, quote: str) -> bool:
    file, line = source.rsplit(":", 1)
    texts = turns[(turns["source_file"] == file) & (turns["line_start"] == int(line))]["text"]
    core = quote.removeprefix("… ").removesuffix(" …").rstrip("…")
    return any(core[:60] in " ".join(t.split()) for t in texts)


def test_clear_complete_sentences_outrank_fillers_and_fragments():
    clear = "We check each new batch of labels against a held-out set before training and reject batches that disagree."
    assert quote_clarity(clear) > quote_clarity("data, Data quality? Um, so data quality. More, more stuff.")
    assert quote_clarity(clear) > quote_clarity("and then, uh, the, the thing with the labels was that")
    assert quote_clarity(clear) > quote_clarity("What do you mean by quality? Like the data?")
    excerpt, _ = best_excerpt("Yeah. Uh, yeah. Okay. " + clear + " So. Um.", max_chars=200)
    assert excerpt == "… " + clear + " …"


def test_every_answer_is_a_finding_or_set_aside(run):
    cfg, _ = run
    tables, _ = theme_tables_for(cfg)
    findings = tables.findings()
    meta = tables.answers["meta_talk"]
    assert len(findings.answers) + int(meta.sum()) == len(tables.answers)
    assert not findings.answers["meta_talk"].any()
    assert findings.themes["answers"].sum() == len(findings.answers)
    aside = tables.set_aside()
    total = aside.loc[aside["theme"] == "all set aside", "answers"]
    assert int(total.sum()) == int(meta.sum())


def test_theme_quotes_are_verbatim_with_their_source_line_and_the_clearest_of_the_pool(run):
    cfg, _ = run
    tables, _ = theme_tables_for(cfg)
    findings = tables.findings()
    quotes = theme_quotes(findings, per_theme=2, pool=5)
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert set(quotes["topic"]) == set(findings.themes["topic"])
    for q in quotes.itertuples():
        assert _turn_holding(turns, q.source, q.quote), q
        pool = findings.answers[findings.answers["topic"] == q.topic].nlargest(5, "similarity")
        best = max(best_excerpt(t)[1] for t in pool["text"])
        if q.rank == 1:
            assert q.clarity == pytest.approx(best, abs=1e-4)


def test_the_topic_table_and_the_theme_pages_quote_the_same_answers(run):
    cfg, _ = run
    tables, _ = theme_tables_for(cfg)
    topic_quotes = pd.read_parquet(cfg.paths.processed / "topic_quotes.parquet")
    theme = theme_quotes(tables, per_theme=3)
    # themes with interview meta-talk in them differ: the theme pages never quote it
    clean = set(tables.themes["topic"]) - set(tables.answers.loc[tables.answers["meta_talk"], "topic"])
    assert len(clean) >= 3
    for topic in sorted(clean):
        mine = topic_quotes[topic_quotes["topic"] == topic].sort_values("rank")
        sources = [f"{f}:{line}" for f, line in zip(mine["source_file"], mine["line_start"])]
        assert sources == theme.loc[theme["topic"] == topic, "source"].tolist(), topic


def test_codebook_stages_follow_the_taxonomy_with_counts_quotes_and_agreement(run):
    cfg, _ = run
    book = codebook_for(cfg)
    taxonomy = load_taxonomy(TAXONOMY)
    assert book.stages["stage"].tolist() == [s.name for s in taxonomy.stages]
    assert book.stages["applies when"].str.len().gt(40).all() and book.stages["not when"].str.len().gt(40).all()
    predictions = pd.read_parquet(cfg.paths.processed / "stages.parquet")
    tables, _ = theme_tables_for(cfg)
    meta = set(tables.answers.loc[tables.answers["meta_talk"], "turn_id"])
    kept = predictions[~predictions["turn_id"].isin(meta)]
    for stage, row in zip(taxonomy.stages, book.stages.itertuples()):
        assert row.answers == int(kept["stages"].map(stage_list).map(lambda v, s=stage.id: s in v).sum())
    agreement = json.loads((cfg.paths.processed / "agreement.json").read_text())
    per_stage = agreement["suite_vs_reference"]["overall"]["per_stage"]
    for stage, row in zip(taxonomy.stages, book.stages.itertuples()):
        assert row.f1 == per_stage.get(stage.id, {}).get("f1")
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert len(book.quotes) > 0
    for q in book.quotes.itertuples():
        assert _turn_holding(turns, q.source, q.quote), q
    assert book.themes["answers"].sum() == len(tables.findings().answers)


def test_methods_page_states_the_run(run):
    cfg, _ = run
    methods = methods_summary(cfg, saturation_orders=20).set_index("item")["value"]
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert methods["interviews"] == str(turns["interview_id"].nunique())
    assert methods["speaker turns"] == str(len(turns))
    assert methods["model"] == cfg.embedding.model
    identity = methods.filter(like="identity").iloc[0]
    assert re.fullmatch(rf"{re.escape(cfg.embedding.model)}\|[0-9a-f]{{8,}}\|.+", identity)
    assert methods["seed"] == str(cfg.seed)
    agreement = json.loads((cfg.paths.processed / "agreement.json").read_text())["suite_vs_reference"]
    low, high = agreement["intervals"]["alpha"]
    assert methods["Krippendorff's alpha"] == f"{agreement['overall']['alpha']:.3f} (90% interval {low:.3f}-{high:.3f})"


def test_without_codes_the_methods_page_and_agreement_note_say_how_to_give_them(run):
    cfg, _ = run
    methods = methods_summary(cfg.with_codes("none"), saturation_orders=5).set_index("item")["value"]
    assert "no human codes" in methods["suite vs human codes"]
    assert "Krippendorff's alpha" not in methods.index
    text = agreement_without_codes()
    assert "make report CODES=" in text and "--codes" in text


def test_the_agreement_page_shows_figures_with_codes_and_says_why_not_without(run):
    cfg, _ = run
    results = json.loads((cfg.paths.processed / "agreement.json").read_text())
    page = agreement_page(results)
    assert page.has_codes and "For scale" in page.intro().data
    per_stage = page.per_stage().data  # the table shown
    assert set(per_stage["stage"]) == set(results["suite_vs_reference"]["overall"]["per_stage"])
    assert len(page.per_interview().data) == len(results["suite_vs_reference"]["per_interview"])
    # a run without codes: agreement_step returns the stages only
    bare = agreement_page({"stages": load_taxonomy(TAXONOMY).ids})
    assert not bare.has_codes and bare.intro().data == agreement_without_codes()
    for section in (bare.per_stage, bare.per_interview):
        assert section().data == NO_REFERENCE_CODES


def test_readme_quotes_the_same_human_agreement():
    readme = (ROOT / "README.md").read_text()
    assert f"human coders agree at {REFERENCE_HUMAN_AGREEMENT['alpha']}" in " ".join(readme.split())


@pytest.mark.slow
@pytest.mark.corpus
def test_human_agreement_figures_come_from_the_corpus_codings(tmp_path):
    from analysis.human_codes import compare_coders, headline
    from analysis.pipeline import read_human_codes
    from analysis.transcripts import load_corpus
    from conftest import sample_settings, write_config

    cfg = load_config(write_config(tmp_path, sample_settings(transcripts=str(CORPUS / "transcripts"),
                                                             processed=str(tmp_path / "processed"))))
    turns = load_corpus(CORPUS / "transcripts").turns
    codings = read_human_codes(cfg, CORPUS / "coded" / "codings", turns)
    result = headline(compare_coders(codings, turns[turns["role"] == "interviewee"], load_taxonomy(TAXONOMY).ids))
    expected = {k: v for k, v in REFERENCE_HUMAN_AGREEMENT.items() if k != "interviews"}
    assert result == expected


@pytest.mark.slow
@pytest.mark.parametrize("name", ["10_codebook", "11_methods"])
def test_codebook_and_methods_notebooks_execute(run, tmp_path, name):
    import papermill as pm

    _, config = run
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(out), parameters={"config_path": str(config)},
                        kernel_name="python3", progress_bar=False, cwd=str(ROOT / "notebooks"))
    html = out.read_text()
    assert "Traceback" not in html
    assert ("Krippendorff" in html) if name == "11_methods" else ("applies when" in html)
