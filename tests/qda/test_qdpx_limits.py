"""A REFI-QDA project that unpacks to more than it should is refused before it is read."""

from __future__ import annotations

import zipfile

import pytest

from analysis.qda import QdpxError, read_qdpx


def test_a_qdpx_that_unpacks_to_more_than_the_limit_is_refused_before_reading(tmp_path):
    bomb = tmp_path / "bomb.qdpx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", '<?xml version="1.0"?><Project xmlns="urn:QDA-XML:project:1.0"/>')
        archive.writestr("sources/big.txt", b"a" * (210 * 1024 * 1024))  # 210 MB of one letter: a few hundred KB
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(QdpxError, match=r"bomb.qdpx: unpacks to 210 MB, over the limit of 200 MB"):
        read_qdpx(bomb)


def test_a_small_project_is_still_read(tmp_path):
    small = tmp_path / "small.qdpx"
    with zipfile.ZipFile(small, "w") as archive:
        archive.writestr("project.qde", '<?xml version="1.0"?><Project xmlns="urn:QDA-XML:project:1.0" name="p"/>')
    assert read_qdpx(small).name == "p"
