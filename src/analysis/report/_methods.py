"""A one-page methods summary generated from the run (what a COREQ checklist asks that the
suite can state), the human-agreement figures of the reference study (one source for the
notebooks and the README), and what each section of the agreement page (notebook 06) shows,
with human codes or without.

Example:
    >>> methods_summary(load_config())                 # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata

import pandas as pd

from .._last_run import last_run
from ..config import Config
from ..embeddings import Embedder
from ..human_codes import per_stage_table
from ..pipeline import load_taxonomy_and_codes, read_table
from ._tables import agreement_by_interview, note, show_table
from ._themes import saturation_table, theme_tables_for

# Two human coders of the same interview, on the reference study's interviews coded twice
# (7, 30, 32; 208 interviewee turns): `compare_coders` on /work/shared/corpus/coded/codings,
# as `benchmarks/stage_agreement.py` prints it ("coder vs coder (humans)"). The README quotes
# these figures; tests/report/test_codebook_methods.py checks both against the corpus.
REFERENCE_HUMAN_AGREEMENT = {
    "interviews": ["7", "30", "32"],
    "units": 208,
    "macro_f1": 0.497,
    "micro_f1": 0.614,
    "alpha": 0.592,
    "coded_kappa": 0.576,
}
PACKAGES = ("sentence-transformers", "torch", "bertopic", "umap-learn", "hdbscan", "scikit-learn", "pandas")


def human_agreement_sentence() -> str:
    """The reference study's coder-vs-coder agreement as one sentence (notebook 06, README).

    Example:
        >>> "alpha 0.592" in human_agreement_sentence()
        True
    """
    h = REFERENCE_HUMAN_AGREEMENT
    return (
        f"On the reference study, two human coders of the same interview (interviews "
        f"{', '.join(h['interviews'])}, {h['units']} answers) agree at macro-F1 {h['macro_f1']:.3f}, "
        f"micro-F1 {h['micro_f1']:.3f}, Krippendorff's alpha {h['alpha']:.3f} "
        f"(\"coded vs not coded\" kappa {h['coded_kappa']:.3f})."
    )


def agreement_without_codes() -> str:
    """What the agreement page (notebook 06) shows when the run has human codes, and how to
    give them; shown instead of empty sections when it has none (Markdown).

    Example:
        >>> "--codes" in agreement_without_codes()
        True
    """
    return (
        "**This run has no human codes**, so there is nothing to compare the suite's coding with. "
        "With codes this page shows: the headline agreement (macro- and micro-F1, Krippendorff's alpha, "
        "\"coded vs not coded\" kappa, with 90% intervals over interviews); Cohen's kappa and F1 per stage; "
        "whether the suite's probabilities are calibrated (reliability chart, Brier score); agreement per "
        "interview; and the code files that carry no codes.\n\n"
        "To give codes (Delve coded-transcript PDFs, a CSV `interview_id, turn_index or text, code`, or a "
        "REFI-QDA `.qdpx`): `make report CODES=path/to/codes` (with `DATA=path/to/transcripts` for your "
        "corpus), or `python -m analysis report --codes path/to/codes`, or set `paths.reference_codes` in "
        "`config/settings.yaml`. Your own review decisions (notebook 09) are read as codes too "
        "(`python -m analysis evaluate --codes data/codes`).\n\n"
        f"*For scale:* {human_agreement_sentence()}"
    )


NO_REFERENCE_CODES = (
    "No reference codes were given (`paths.reference_codes`, or `CODES=` of `make report`): nothing to compare with."
)


@dataclass(frozen=True)
class AgreementPage:
    """What each section of the agreement page (notebook 06) shows (its reliability chart
    is :meth:`RunCharts.reliability`, with the report's other charts), from the results of
    :func:`analysis.agreement_step`: figures when the run has human codes, and otherwise
    a note saying why a section is empty (:func:`agreement_page` builds it).

    Attributes:
        results: the agreement results (``agreement.json``).
    """

    results: dict

    @property
    def has_codes(self) -> bool:
        """Whether the run had human codes to compare the suite's coding with."""
        return bool(self.results.get("suite_vs_reference"))

    def intro(self):
        """The note atop the page: with codes, the human coders' own agreement for scale;
        without, what the page would show and how to give codes (:func:`agreement_without_codes`)."""
        if not self.has_codes:
            return note(agreement_without_codes())
        return note(f"*For scale:* {human_agreement_sentence()}")

    def per_stage(self):
        """Cohen's kappa, F1 and positives per stage, or the no-codes note."""
        if not self.has_codes:
            return note(NO_REFERENCE_CODES)
        return show_table(per_stage_table(self.results["suite_vs_reference"]))

    def per_interview(self):
        """The suite's agreement per interview, or the no-codes note."""
        return show_table(agreement_by_interview(self.results), empty=NO_REFERENCE_CODES)


def agreement_page(results: dict) -> AgreementPage:
    """The sections of the agreement page for these results (the notebook only calls them).

    Example:
        >>> page = agreement_page({"stages": ["data"]})
        >>> page.has_codes, page.per_stage().data == NO_REFERENCE_CODES
        (False, True)
        >>> "make report CODES=" in page.intro().data
        True
    """
    return AgreementPage(results)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _settings(model, exclude=()) -> str:
    return ", ".join(f"{k}={v}" for k, v in model.model_dump(exclude=set(exclude)).items() if k not in exclude)


def methods_summary(cfg: Config, saturation_orders: int = 200) -> pd.DataFrame:
    """The methods of the run in ``data/processed``, one row per item a reader checks
    (COREQ: data collection, coding, analysis): ``section``, ``item``, ``value``.

    Covers the corpus (interviews, turns, answers, words), who coded what (the suite,
    human coders when codes were given, the researcher's reviews), the embedding model and
    its weights' hash, the versions and settings of BERTopic, UMAP and HDBSCAN, the seed, the
    stage and meta-talk settings, the agreement with human codes with its intervals (when
    codes exist) and thematic saturation.
    """
    turns = read_table(cfg, "turns")
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    answers = turns[turns["role"] == "interviewee"]
    rows: list[tuple[str, str, object]] = []

    def add(section, item, value):
        rows.append((section, item, value))

    # data
    formats = turns.drop_duplicates("source_file")["format"].value_counts() if "format" in turns else pd.Series()
    add("Data", "interviews", int(turns["interview_id"].nunique()))
    add("Data", "transcript formats", ", ".join(f"{k} ({v})" for k, v in formats.items()))
    add("Data", "speaker turns", len(turns))
    add("Data", "interviewee answers", len(answers))
    substantive = answers[answers["substantive"].astype(bool)] if "substantive" in answers else answers
    add("Data", "substantive answers (modelled)", len(substantive))
    add("Data", "words spoken (all / interviewees)", f"{int(turns['n_words'].sum())} / {int(answers['n_words'].sum())}")
    by_interview = answers.groupby("interview_id")["n_words"].sum()
    if len(by_interview):
        add(
            "Data",
            "interviewee words per interview (median, range)",
            f"{int(by_interview.median())} ({int(by_interview.min())}-{int(by_interview.max())})",
        )
    add("Data", "names in outputs", "kept" if cfg.privacy.keep_names else "replaced by pseudonymous ids")

    # who coded what
    add("Coding", "themes", "the suite: BERTopic topics of the answer embeddings (notebook 03), unsupervised")
    predictions = read_table(cfg, "stages")
    source = predictions["source"].value_counts() if "source" in predictions else pd.Series(dtype=int)
    add(
        "Coding",
        "lifecycle stages",
        "the suite: a learned model (zero-shot from the reference study's codes, or few-shot when trained on "
        f"this study's codes) over the taxonomy's {len(taxonomy.stages)} stages "
        f"({', '.join(s.name for s in taxonomy.stages)})",
    )
    add("Coding", "answers coded by the researcher (reviews)", int(source.get("researcher", 0)))
    run = last_run(cfg.paths.processed) or {}
    codes = cfg.paths.reference_codes
    add("Coding", "human codes compared with", "none" if codes is None else f"{codes.name}/ (see Agreement)")
    if run:
        add("Coding", "last run's human codes", "none" if not run.get("reference_codes") else "given")

    # embeddings and topics
    embedder = Embedder.from_settings(cfg.embedding, show_progress=False)
    add("Embeddings", "model", cfg.embedding.model)
    add("Embeddings", "model identity (name | weights hash | chunking [| precision])", embedder.model_id)
    add(
        "Embeddings",
        "precision",
        f"{embedder.precision} (embedding.precision: {cfg.embedding.precision})"
        + (" - matrix products in bfloat16 (torch autocast), the rest in fp32" if embedder.precision == "bf16" else ""),
    )
    for package in PACKAGES:
        add("Software", package, _version(package))
    add("Software", "analysis (this suite)", _version("analysis"))
    add("Settings", "seed", cfg.seed)
    add("Settings", "topics (BERTopic, UMAP, HDBSCAN)", _settings(cfg.topics, exclude=("fillers",)))
    add("Settings", "topic words left out (spoken fillers)", f"{len(cfg.topics.fillers or ())} words")
    add("Settings", "stages", _settings(cfg.stages, exclude=("taxonomy", "code_map")))
    add("Settings", "interview meta-talk", _settings(cfg.meta_talk, exclude=("cues", "process_words")))
    add("Settings", "meta-talk cue kinds", ", ".join(f"{k} ({len(v)})" for k, v in cfg.meta_talk.cues.items()))

    # themes and saturation
    tables, _ = theme_tables_for(cfg)
    findings = tables.findings()
    aside = tables.set_aside()
    add("Themes", "themes (findings)", len(findings.themes))
    add("Themes", "answers in themes (findings)", len(findings.answers))
    total = aside[aside["theme"] == "all set aside"]
    add(
        "Themes",
        "interview meta-talk set aside (themes / answers)",
        f"{int(tables.themes['meta_talk'].sum()) if 'meta_talk' in tables.themes else 0} / "
        f"{int(total['answers'].iloc[0]) if len(total) else 0}",
    )
    outliers = read_table(cfg, "topics")
    add("Themes", "answers in no topic (outliers)", int((outliers["topic"] == -1).sum()))
    if len(findings.answers):
        sat = saturation_table(findings, orders=saturation_orders, seed=cfg.seed)
        half = sat.iloc[max(0, len(sat) // 2 - 1)]
        last = sat.iloc[-1]
        add(
            "Themes",
            "saturation",
            f"{half['share_reached']:.0%} of the themes reached after {int(half['interviews'])} of {len(sat)} "
            f"interviewees (95% of orders {half['share_low']:.0%}-{half['share_high']:.0%}); the last "
            f"interviewee adds {last['new_themes']:.2f} new themes on average ({saturation_orders} random orders)",
        )

    # agreement
    path = cfg.paths.processed / "agreement.json"
    result = None
    if codes is not None and path.is_file():
        try:
            result = json.loads(path.read_text(encoding="utf-8")).get("suite_vs_reference")
        except (OSError, ValueError):
            result = None
    if result and result.get("overall"):
        overall, spread = result["overall"], result.get("intervals") or {}

        def with_interval(key, value):
            band = spread.get(key)
            level = spread.get("level", 0.9)
            return f"{value:.3f}" + (f" ({level:.0%} interval {band[0]:.3f}-{band[1]:.3f})" if band else "")

        coded = len(result.get("interviews", []))
        add("Agreement", "units (answers) / coded interviews", f"{overall['units']} / {coded}")
        for key, name in (("macro_f1", "macro-F1"), ("micro_f1", "micro-F1"), ("alpha", "Krippendorff's alpha")):
            if overall.get(key) is not None:
                add("Agreement", name, with_interval(key, overall[key]))
        if (overall.get("coded") or {}).get("kappa") is not None:
            kappa = with_interval("coded_kappa", overall["coded"]["kappa"])
            add("Agreement", "coded vs not coded, Cohen's kappa", kappa)
    else:
        add("Agreement", "suite vs human codes", "no human codes in this run (notebook 06 says how to give them)")
    add("Agreement", "for scale: human coder vs coder (reference study)", human_agreement_sentence())
    return pd.DataFrame(rows, columns=["section", "item", "value"]).astype({"value": str})
