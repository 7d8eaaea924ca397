"""REFI-QDA export: validated against the schemas, read back, imported as human codes."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pandas as pd
import pytest
import xmlschema

from analysis import export_step, load_taxonomy, read_human_codes, read_table
from analysis.qda import QdpxError, read_qdpx
from conftest import SHARED, TAXONOMY

SCHEMAS = SHARED / "schemas" / "refi-qda"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SCHEMAS.is_dir(), reason=f"REFI-QDA schemas not found at {SCHEMAS}"),
]


@pytest.fixture(scope="module")
def exported(sample_run, tmp_path_factory):
    cfg, config = sample_run
    return cfg, config, export_step(cfg, tmp_path_factory.mktemp("export"))


def test_project_and_codebook_validate_against_the_refi_schemas(exported):
    _, _, written = exported
    with zipfile.ZipFile(written["qdpx"]) as archive:
        project = archive.read("project.qde").decode("utf-8")
        names = archive.namelist()
    xmlschema.XMLSchema(SCHEMAS / "Project.xsd").validate(project)
    xmlschema.XMLSchema(SCHEMAS / "Codebook.xsd").validate(written["qdc"].read_text(encoding="utf-8"))
    assert sum(n.startswith("sources/") for n in names) == 6
    # a broken project is rejected by the same validator: the check can fail
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        xmlschema.XMLSchema(SCHEMAS / "Project.xsd").validate(
            project.replace('isCodable="true"', 'isCodable="maybe"', 1)
        )


def test_round_trip_positions_guids_and_counts(exported):
    cfg, _, written = exported
    project = read_qdpx(written["qdpx"])
    turns = read_table(cfg, "turns").set_index("turn_id")
    stages = read_table(cfg, "stages")
    codes = project.all_codes()
    suite_user = next(g for g, n in project.users.items() if "automatic" in n)
    suite = [s for s in project.selections if s.user == suite_user]
    coded = stages[stages["stages"].map(len) > 0]
    assert len(suite) == len(coded)
    texts = {s.guid: s.text for s in project.sources}
    for selection in suite:
        selected = texts[selection.source][selection.start : selection.end]
        matches = turns[(turns["text"] == selected)]
        assert len(matches) >= 1, selection.name
        assert all(ref in codes for ref in selection.codes)
    # selections per stage code equal the coded turns per stage
    stage_names = {c.name for root in project.codes for c, parent in root.walk() if parent is None}
    per_code = pd.Series([codes[ref][0].name for s in suite for ref in s.codes if codes[ref][1] is None]).value_counts()
    names = {st.id: st.name for st in load_taxonomy(TAXONOMY).stages}
    expected = coded["stages"].explode().map(names).value_counts()
    assert per_code.sort_index().to_dict() == expected.sort_index().to_dict()
    assert set(per_code.index) <= stage_names
    # the answers the suite was unsure of carry the review code, and no others
    unsure = [s for s in suite if any(codes[ref][0].name.startswith("Uncertain") for ref in s.codes)]
    assert len(unsure) == int(coded["uncertain"].sum())
    # human codes kept their own coder
    assert len(project.users) == 2 and any(n == "coder-1" or n == "fictional-coder" for n in project.users.values())


def test_same_tables_give_the_same_bytes(exported, tmp_path):
    cfg, _, written = exported
    again = export_step(cfg, tmp_path, formats=("qdpx",))
    assert again["qdpx"].read_bytes() == written["qdpx"].read_bytes()


def test_exported_project_imports_back_as_human_codes(exported, tmp_path):
    cfg, _, written = exported
    folder = tmp_path / "codes"
    folder.mkdir()
    (folder / "study.qdpx").write_bytes(written["qdpx"].read_bytes())
    human = read_human_codes(cfg, folder)
    stages = read_table(cfg, "stages")
    turns = read_table(cfg, "turns").set_index("turn_id")
    suite = human.codes[(human.codes["status"] == "mapped") & human.codes["coder"].eq("coder-1")]
    imported = {(r.interview_id, int(r.turn_index), r.stage) for r in suite.itertuples()}
    exported_pairs = {
        (turns.loc[t, "interview_id"], int(turns.loc[t, "turn_index"]), s)
        for t, ss in zip(stages["turn_id"], stages["stages"])
        for s in ss
    }
    assert imported == exported_pairs


def test_cli_export_and_tables(exported, tmp_path):
    cfg, config, _ = exported
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "--config", str(config), "export", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    segments = pd.read_csv(tmp_path / "coded_segments.csv", dtype={"interview_id": str})
    stages = read_table(cfg, "stages")
    assert len(segments) == int(stages["stages"].map(len).sum())
    by_theme = pd.read_csv(tmp_path / "interviewee_by_theme.csv", index_col=0)
    topics = read_table(cfg, "topics")
    assert by_theme.to_numpy().sum() == int((topics["topic"] != -1).sum())
    sheets = pd.read_excel(tmp_path / "study.xlsx", sheet_name=None)
    assert set(sheets) == {"coded_segments", "interviewee_by_theme", "themes"}
    assert len(sheets["coded_segments"]) == len(segments)


def test_broken_archive_is_reported_with_its_name(tmp_path):
    bad = tmp_path / "broken.qdpx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(QdpxError, match="broken.qdpx: not a .qdpx archive"):
        read_qdpx(bad)
