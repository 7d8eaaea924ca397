"""The report reads the Delve prints into their cache in a background process while the
first notebooks run; notebook 06 then finds them cached, and reads only what is not."""

from __future__ import annotations

import shutil
import time

import pytest

from analysis import TranscriptError, load_config
from analysis.human_codes import _readers
from analysis.report._render import _start_print_prefetch, _stop_print_prefetch
from conftest import CORPUS, SAMPLE, sample_settings, write_config

pytestmark = pytest.mark.corpus


def _config(tmp_path, codes=None):
    settings = sample_settings(
        transcripts=str(SAMPLE), processed=str(tmp_path / "processed"), reports=str(tmp_path / "reports"),
        reference_codes=None if codes is None else str(codes),
    )
    return load_config(write_config(tmp_path, settings))


def test_the_background_reader_caches_every_good_print_and_leaves_a_broken_one_to_notebook_06(
    tmp_path, monkeypatch
):
    folder = tmp_path / "coded" / "consensus"
    folder.mkdir(parents=True)
    prints = sorted((CORPUS / "coded" / "moderation").glob("*.pdf"))[:3]
    for path in prints:
        shutil.copy(path, folder)
    (folder / "Interview 7 - Cut.pdf").write_bytes(prints[0].read_bytes()[:5000])
    cfg = _config(tmp_path)
    cache = tmp_path / "processed" / "cache" / "delve"

    prefetch = _start_print_prefetch(cfg, str(tmp_path / "coded"))  # the report's --codes folder
    assert prefetch is not None and prefetch.wait(timeout=120) == 0
    assert len(list(cache.glob("*.json"))) == len(prints)  # one entry per good print, none half-written
    assert not list(cache.glob(".*.tmp"))

    parsed = []
    parse = _readers._parse_delve_pdfs

    def recorded(batch):
        parsed.extend(path.name for path, _ in batch)
        return parse(batch)

    monkeypatch.setattr(_readers, "_parse_delve_pdfs", recorded)
    paths = sorted(folder.glob("*.pdf"))
    read = _readers._read_delve_pdfs(paths, cache)
    assert parsed == ["Interview 7 - Cut.pdf"]  # the rest came from the cache
    assert sum(isinstance(r, TranscriptError) for r in read) == 1
    assert all(len(r.turns) > 50 for r in read if not isinstance(r, TranscriptError))
    uncached = _readers._read_delve_pdfs(paths, None)  # as read without the cache, error included
    assert [str(r) if isinstance(r, TranscriptError) else r for r in read] == [
        str(r) if isinstance(r, TranscriptError) else r for r in uncached
    ]


def test_no_background_reader_without_codes(tmp_path):
    cfg = _config(tmp_path)
    assert _start_print_prefetch(cfg, "none") is None  # --codes none
    assert _start_print_prefetch(cfg, None) is None  # no reference_codes in the settings
    assert _start_print_prefetch(_config(tmp_path, codes=tmp_path / "missing"), None) is None


def test_a_stopped_background_reader_ends_at_once_and_leaves_no_partial_entry(tmp_path):
    cfg = _config(tmp_path, codes=CORPUS / "coded")  # 54 prints: about 10 s of one core
    prefetch = _start_print_prefetch(cfg, None)
    cache = tmp_path / "processed" / "cache" / "delve"
    deadline = time.monotonic() + 60
    while not list(cache.glob("*.json")) and time.monotonic() < deadline:  # some prints read
        time.sleep(0.05)
    started = time.monotonic()
    _stop_print_prefetch(prefetch)
    assert prefetch.returncode is not None and time.monotonic() - started < 10
    entries = list(cache.glob("*.json"))
    assert 0 < len(entries) < 54 and not list(cache.glob(".*.tmp"))
    for entry in entries:  # every entry written whole
        assert _readers._read_cached_print(entry) is not None
