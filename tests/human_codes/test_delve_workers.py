"""Delve prints parsed in worker processes read exactly as parsed one after another."""

from __future__ import annotations

import sys

import pytest

from analysis import TranscriptError
from analysis.human_codes import _readers
from conftest import CORPUS


@pytest.mark.corpus
@pytest.mark.skipif(sys.platform != "linux", reason="prints are parsed in forked workers on Linux only")
def test_prints_parsed_in_workers_read_as_parsed_in_one_process(tmp_path, monkeypatch):
    prints = sorted((CORPUS / "coded" / "moderation").glob("*.pdf"))[:4]
    truncated = tmp_path / "Interview 7 - Cut.pdf"
    truncated.write_bytes(prints[0].read_bytes()[:5000])
    paths = [prints[0], prints[1], truncated, prints[2], prints[3]]

    monkeypatch.setattr(_readers, "PDF_WORKERS_FROM", len(paths) + 1)
    one_process = _readers._read_delve_pdfs(paths, None)

    pools = []

    class CountedPool(_readers.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self._max_workers)

    monkeypatch.setattr(_readers, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(_readers, "PDF_WORKERS_FROM", 2)
    monkeypatch.setattr(_readers.os, "sched_getaffinity", lambda _pid: {0, 1})  # two cores, however many here
    workers = _readers._read_delve_pdfs(paths, None)

    assert pools == [2]
    # the same documents, in the same order, and the broken print's problem names it
    assert [type(r) for r in workers] == [type(r) for r in one_process]
    assert isinstance(workers[2], TranscriptError) and str(workers[2]) == str(one_process[2])
    assert str(workers[2]).startswith("Interview 7 - Cut.pdf: the PDF is truncated")
    for in_workers, in_one in zip(workers[:2] + workers[3:], one_process[:2] + one_process[3:]):
        assert in_workers == in_one and len(in_one.turns) > 50  # path, interview, coder, title and every turn


@pytest.mark.corpus
def test_uncached_prints_are_parsed_in_batches_bounded_by_their_bytes(tmp_path, monkeypatch):
    prints = sorted((CORPUS / "coded" / "moderation").glob("*.pdf"))[:6]
    truncated = tmp_path / "Interview 7 - Cut.pdf"
    truncated.write_bytes(prints[0].read_bytes()[:5000])
    paths = [*prints[:3], truncated, *prints[3:]]
    sizes = [p.stat().st_size for p in paths]
    whole = _readers._read_delve_pdfs(paths, None)  # one batch: the default bound holds them all

    batches = []
    parse = _readers._parse_delve_pdfs

    def recorded(batch):
        batches.append([len(content) for _, content in batch])
        return parse(batch)

    monkeypatch.setattr(_readers, "_parse_delve_pdfs", recorded)
    monkeypatch.setattr(_readers, "PDF_BATCH_BYTES", 2 * max(sizes))
    batched = _readers._read_delve_pdfs(paths, tmp_path / "cache")

    assert len(batches) > 1 and sum(len(b) for b in batches) == len(paths)  # every print parsed, once
    # a batch is parsed as soon as it reaches the bound: never more than the bound and one print
    assert all(sum(b[:-1]) < 2 * max(sizes) for b in batches)
    assert [str(r) if isinstance(r, TranscriptError) else r for r in batched] == [
        str(r) if isinstance(r, TranscriptError) else r for r in whole
    ]
    assert str(batched[3]).startswith("Interview 7 - Cut.pdf: the PDF is truncated")

    batches.clear()
    again = _readers._read_delve_pdfs(paths, tmp_path / "cache")  # the good prints now come from the cache
    assert batches == [[sizes[3]]] and again[:3] + again[4:] == batched[:3] + batched[4:]
