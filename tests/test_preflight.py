"""Settings checked before the first step: bad values, binary files, folders that are
files, a model folder that holds no model, a missing taxonomy or code map, a malformed
theme-labels file. Each is a ConfigError naming the file or key, before anything runs."""

from __future__ import annotations

import pytest

from analysis import AnalysisError, ConfigError, load_config, preflight
from analysis.cli import main
from analysis.topics import load_theme_labels, save_theme_label
from conftest import SAMPLE, SAMPLE_CODES, sample_settings, write_config


def settings_file(tmp_path, **paths):
    paths = {
        "transcripts": str(SAMPLE),
        "processed": str(tmp_path / "processed"),
        "reference_codes": str(SAMPLE_CODES),
        **paths,
    }
    paths.setdefault("theme_labels", str(tmp_path / "theme_labels.json"))
    return write_config(tmp_path, sample_settings(**paths))


@pytest.mark.parametrize("value", [[3, 1], [0, 2], [2, 0]])
def test_ngram_range_must_run_low_to_high_from_one(tmp_path, value):
    path = tmp_path / "config" / "settings.yaml"
    path.parent.mkdir()
    path.write_text(f"paths: {{transcripts: x}}\ntopics: {{ngram_range: {value}}}\n")
    with pytest.raises(ConfigError, match=rf"{path}: topics.ngram_range: .*1 <= low <= high"):
        load_config(path)


def test_a_binary_config_names_the_file_and_line(tmp_path):
    path = tmp_path / "config" / "settings.yaml"
    path.parent.mkdir()
    path.write_bytes(b"paths: {transcripts: x}\n\x89PNG\r\n\x1a\n\xff\xd8\xff")
    with pytest.raises(ConfigError, match=rf"{path}, line 2: not UTF-8 text"):
        load_config(path)


def test_processed_that_is_a_file_is_refused_when_loaded(tmp_path):
    (tmp_path / "processed").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"paths.processed: .*processed is a file, not a folder"):
        load_config(settings_file(tmp_path))


def test_every_problem_is_listed_before_anything_runs(tmp_path):
    not_a_model = tmp_path / "my-model"
    not_a_model.mkdir()
    (not_a_model / "notes.txt").write_text("weights to come")
    (tmp_path / "theme_labels.json").write_text('[{"topic": 1, "original": "a", "label": "b"},\n{"topic": ')
    settings = sample_settings(
        transcripts=str(tmp_path / "no-such-corpus"),
        processed=str(tmp_path / "processed"),
        theme_labels=str(tmp_path / "theme_labels.json"),
    )
    settings["embedding"]["model"] = str(not_a_model)
    settings["stages"]["taxonomy"] = str(tmp_path / "missing-taxonomy.yaml")
    cfg = load_config(write_config(tmp_path, settings))
    with pytest.raises(ConfigError) as caught:
        preflight(cfg)
    message = str(caught.value)
    assert "nothing was run" in message
    assert f"paths.transcripts: {tmp_path / 'no-such-corpus'} not found" in message
    assert f"embedding.model: {not_a_model} holds no model" in message
    assert f"{tmp_path / 'missing-taxonomy.yaml'}: cannot read the stage taxonomy" in message
    assert f"{tmp_path / 'theme_labels.json'}, line 2: not valid JSON" in message
    assert not (tmp_path / "processed").exists()


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: (d / "model.safetensors").write_bytes(b"\x00" * 8), "holds no model"),
        (lambda d: (d / "config.json").write_text("{}"), "holds no model weights"),
        (lambda d: None, "holds no model"),
    ],
    ids=["weights-only", "config-only", "empty-folder"],
)
def test_a_model_folder_without_a_model_is_named(tmp_path, make, expected):
    folder = tmp_path / "model"
    folder.mkdir()
    make(folder)
    settings = sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "p"))
    settings["embedding"]["model"] = str(folder)
    cfg = load_config(write_config(tmp_path, settings))
    preflight(cfg, steps=("load",))  # loading alone does not need the model
    with pytest.raises(ConfigError, match=rf"embedding.model: {folder} {expected}"):
        preflight(cfg, steps=("embed",))


@pytest.mark.parametrize(
    "name, expected",
    [("./models/absent", "not found"), ("no-such-org/no-such-model", "neither a local folder nor a model")],
)
def test_a_model_that_is_not_there_is_named(tmp_path, name, expected):
    settings = sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "p"))
    settings["embedding"]["model"] = name
    with pytest.raises(ConfigError, match=expected):
        preflight(load_config(write_config(tmp_path, settings)), steps=("embed",))


def test_the_default_settings_pass(tmp_path):
    preflight(load_config(settings_file(tmp_path)))


def test_the_command_line_stops_before_the_first_step(tmp_path, capsys):
    settings = sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "processed"))
    settings["stages"]["code_map"] = str(tmp_path / "missing-code-map.yaml")
    config = write_config(tmp_path, settings)
    assert main(["--config", str(config), "code-stages", "--transcripts", str(SAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot start") and "missing-code-map.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "processed" / "turns.parquet").exists()


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'[{"topic": 1, "original": "a", "label": "b"}', r"theme_labels\.json, line 1: not valid JSON"),
        (b"\xff\xfe[]", r"theme_labels\.json: not UTF-8 text"),
        (b'{"topic": 1}', r"theme_labels\.json: expected a JSON list"),
        (b'[{"topic": "one", "original": "a", "label": "b"}]', r"theme_labels\.json: entry 1 is not"),
        (b'[{"topic": 1, "label": "b"}]', r"theme_labels\.json: entry 1 is not"),
        (b'[{"topic": 1, "original": "a", "label": 5}]', r"theme_labels\.json: entry 1 is not"),
    ],
    ids=["truncated", "binary", "not-a-list", "topic-not-a-number", "no-original", "label-not-text"],
)
def test_a_malformed_theme_labels_file_is_named_not_ignored(tmp_path, content, expected):
    path = tmp_path / "theme_labels.json"
    path.write_bytes(content)
    with pytest.raises(AnalysisError, match=expected + ".*fix it or delete it"):
        load_theme_labels(path)
    with pytest.raises(AnalysisError, match=expected):  # a rename does not overwrite it either
        save_theme_label(path, 2, "x", "y")
    assert path.read_bytes() == content


def test_theme_labels_round_trip(tmp_path):
    path = tmp_path / "labels.json"
    save_theme_label(path, 3, "drift, data", "Data drift")
    save_theme_label(path, 1, "labels", "=Label noise")
    assert load_theme_labels(path) == {1: "=Label noise", 3: "Data drift"}
    assert [p.name for p in tmp_path.iterdir()] == ["labels.json"]
