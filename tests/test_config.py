from __future__ import annotations

import pytest

from analysis import ConfigError, load_config

from conftest import ROOT


def test_project_config_loads_with_absolute_paths():
    cfg = load_config(ROOT / "config" / "analysis.yaml")
    assert cfg.paths.transcripts == ROOT / "data" / "raw" / "sample"
    assert cfg.paths.processed.is_absolute()
    assert cfg.seed == 42


@pytest.mark.parametrize("text, expected", [
    ("paths: {transcripts: x}\nembeding: {model: m}\n", "embeding: unknown key"),
    ("paths: {transcripts: x}\nembedding: {batch_size: 0}\n", "embedding.batch_size: Input should be greater than or equal to 1"),
    ("paths: {transcripts: x}\nseed: many\n", "seed: Input should be a valid integer"),
    ("paths: {transcripts: x}\ningest: {speaker_roles: {Alice: boss}}\n", "ingest.speaker_roles.Alice"),
    ("seed: 1\n", "paths: Field required"),
    ("paths: [unclosed\n", "line 2: not valid YAML"),
])
def test_bad_config_names_the_key(tmp_path, text, expected):
    path = tmp_path / "config" / "analysis.yaml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_relative_corpus_override_is_taken_from_the_project_root():
    cfg = load_config(ROOT / "config" / "analysis.yaml").with_transcripts("../shared/corpus/transcripts")
    assert cfg.paths.transcripts == (ROOT.parent / "shared" / "corpus" / "transcripts").resolve()
