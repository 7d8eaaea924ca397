from __future__ import annotations

import pytest
import yaml

from analysis import ConfigError, load_config
from conftest import CODE_MAP, ROOT, SETTINGS, TAXONOMY


def test_project_config_loads_with_absolute_paths():
    cfg = load_config(SETTINGS)
    assert cfg.paths.transcripts == ROOT / "data" / "raw" / "sample"
    assert cfg.paths.processed.is_absolute()
    assert cfg.seed == 42
    assert cfg.paths.reference_codes == ROOT / "data" / "raw" / "sample_codes"
    assert cfg.paths.independent_codings is None
    # each step's settings are sections of the one file
    assert cfg.resolve(cfg.stages.taxonomy) == TAXONOMY and cfg.resolve(cfg.stages.code_map) == CODE_MAP
    raw = yaml.safe_load(SETTINGS.read_text())
    assert cfg.substance.min_content_words == raw["substance"]["min_content_words"]
    assert cfg.topics.cluster_selection_method == raw["topics"]["cluster_selection_method"]
    assert cfg.stages.uncertain_margin == raw["stages"]["uncertain_margin"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("paths: {transcripts: x}\nembeding: {model: m}\n", "embeding: unknown key"),
        (
            "paths: {transcripts: x}\nembedding: {batch_size: 0}\n",
            "embedding.batch_size: Input should be greater than or equal to 1",
        ),
        ("paths: {transcripts: x}\nseed: many\n", "seed: Input should be a valid integer"),
        (
            "paths: {transcripts: x}\nembedding: {precision: fp16}\n",
            "embedding.precision: Input should be 'auto', 'fp32' or 'bf16'",
        ),
        ("paths: {transcripts: x}\ningest: {speaker_roles: {Alice: boss}}\n", "ingest.speaker_roles.Alice"),
        ("seed: 1\n", "paths: Field required"),
        ("paths: [unclosed\n", "line 2: not valid YAML"),
        ("paths: {transcripts: x, codes: y}\n", "paths.codes: unknown key (renamed to paths.reference_codes)"),
        ("paths: {transcripts: x, codings: y}\n", "paths.codings: unknown key (renamed to paths.independent_codings)"),
        (
            "paths: {transcripts: x}\ntopics: {outlier_threshold: 0.35}\n",
            "topics.outlier_threshold: unknown key (renamed to topics.outlier_quantile)",
        ),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, expected):
    path = tmp_path / "config" / "settings.yaml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_relative_corpus_override_is_taken_from_the_project_root():
    cfg = load_config(SETTINGS).with_transcripts("../shared/corpus/transcripts")
    assert cfg.paths.transcripts == (ROOT.parent / "shared" / "corpus" / "transcripts").resolve()
