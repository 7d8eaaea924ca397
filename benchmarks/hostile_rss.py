"""Peak memory of the command line on hostile inputs: each case is built here (as the
hostile tests build theirs, scaled up), run through ``python -m analysis`` in a process
of its own, and its peak resident memory (``ru_maxrss`` of that process, from
``os.wait4``) printed with how the run ended. Target: every case at or under 2 GB; a
case that is refused must be refused with a message (exit 2), never a traceback.

Asserts nothing: prints a table and the maximum.

    .venv/bin/python benchmarks/hostile_rss.py [--keep DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _corpus_config import write_settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "raw" / "sample"
TARGET_MB = 2048
ADDRESS_LIMIT_GB = 10  # virtual memory per case (PyTorch alone reserves ~4 GB of it)
MB = 1 << 20
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
QDA = 'xmlns="urn:QDA-XML:project:1.0"'


# ---------------------------------------------------------------- inputs


def _docx(document_xml_writer) -> bytes:
    """A .docx made by python-docx whose word/document.xml is replaced by what
    ``document_xml_writer(fh)`` streams."""
    import docx  # python-docx, a dependency of the loader

    plain = io.BytesIO()
    docx.Document().save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                z.writestr(info.filename, src.read(info.filename))
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            document_xml_writer(fh)
    return out.getvalue()


def docx_bomb(megabytes: int) -> bytes:
    """A .docx of a few MB whose document.xml unpacks to ``megabytes`` MB (one text node)."""

    def write(fh):
        fh.write(f"<w:document {W}><w:body><w:p><w:r><w:t>Interviewee: ".encode())
        chunk = b"a" * MB
        for _ in range(megabytes):
            fh.write(chunk)
        fh.write(b"</w:t></w:r></w:p></w:body></w:document>")

    return _docx(write)


def docx_laughs() -> bytes:
    """A .docx whose document.xml declares entities that would expand to 10^9 'lol'."""
    entities = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]><w:document {W}><w:body>'
        "<w:p><w:r><w:t>Interviewee: &l9;</w:t></w:r></w:p></w:body></w:document>"
    )
    return _docx(lambda fh: fh.write(xml.encode()))


def qdpx_bomb(megabytes: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", f'<?xml version="1.0"?><Project {QDA} name="p"/>')
        with z.open("sources/big.txt", "w", force_zip64=True) as fh:
            chunk = b"a" * MB
            for _ in range(megabytes):
                fh.write(chunk)
    return out.getvalue()


def qdpx_laughs() -> bytes:
    entities = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    project = f'<?xml version="1.0"?><!DOCTYPE Project [{entities}]><Project {QDA} name="&l9;"/>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", project)
    return out.getvalue()


def qdpx_many_sources(sources: int, kilobytes: int) -> bytes:
    """A project under the size limit with many text sources (read, not refused)."""
    out = io.BytesIO()
    text = ("Interviewee: the labels were noisy and the pipeline broke. " * (kilobytes * 17))[: kilobytes * 1024]
    listed = "".join(
        f'<TextSource guid="s{i}" name="Interview {i}" plainTextPath="internal://s{i}.txt"/>' for i in range(sources)
    )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", f'<?xml version="1.0"?><Project {QDA} name="p"><Sources>{listed}</Sources></Project>')
        for i in range(sources):
            z.writestr(f"sources/s{i}.txt", text)
    return out.getvalue()


def write_lines(path: Path, lines: int) -> None:
    """A transcript of ``lines`` alternating one-word turns (10^6 lines: about 20 MB)."""
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(lines // 2):
            fh.write("Interviewer: ok?\nInterviewee: yes\n")


def write_huge_line(path: Path, megabytes: float) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Interviewer: Why?\nInterviewee: ")
        word = "because "
        fh.write(word * int(megabytes * MB / len(word)))
        fh.write("\n")


def write_codes_csv(path: Path, megabytes: int) -> None:
    """A codes CSV of ``megabytes`` MB (rows for turn 3 of the sample's interview 101)."""
    row = "101,3,Data-labels\n"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("interview_id,turn_index,code\n")
        fh.write(row * (megabytes * MB // len(row)))


# ---------------------------------------------------------------- cases


def build_cases(work: Path, only: list[str] | None = None) -> dict[str, list[str]]:
    """name -> CLI arguments (after --config), for the cases whose name holds a word of ``only`` (all: None)."""
    load = ["load", "--transcripts"]

    def transcript(name: str, write) -> list[str]:
        folder = work / "inputs" / name
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)
        return [*load, str(folder)]

    def codes(name: str, write) -> list[str]:
        folder = work / "inputs" / name
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)
        return ["evaluate", "--codes", str(folder), "--transcripts", str(SAMPLE), "--out", str(work / "agreement.json")]

    builders = {
        "docx zip bomb (1 GB document.xml)": lambda: transcript(
            "docx-bomb-1GB", lambda f: (f / "Interview 1.docx").write_bytes(docx_bomb(1024))),
        "docx, 19 MB text node (under the limit)": lambda: transcript(
            "docx-19MB-text", lambda f: (f / "Interview 1.docx").write_bytes(docx_bomb(19))),
        "docx billion laughs": lambda: transcript(
            "docx-laughs", lambda f: (f / "Interview 1.docx").write_bytes(docx_laughs())),
        "text, one 19 MB line": lambda: transcript(
            "huge-line-19MB", lambda f: write_huge_line(f / "Interview 1.txt", 19)),
        "text, one 500 MB line (over the limit)": lambda: transcript(
            "huge-line-500MB", lambda f: write_huge_line(f / "Interview 1.txt", 500)),
        "text, 10^6 lines (19 MB)": lambda: transcript(
            "million-lines", lambda f: write_lines(f / "Interview 1.txt", 1_000_000)),
        "qdpx zip bomb (2 GB source)": lambda: codes(
            "qdpx-bomb", lambda f: (f / "bomb.qdpx").write_bytes(qdpx_bomb(2048))),
        "qdpx billion laughs": lambda: codes(
            "qdpx-laughs", lambda f: (f / "laughs.qdpx").write_bytes(qdpx_laughs())),
        "qdpx, 190 sources of 1 MB (under the limit)": lambda: codes(
            "qdpx-190MB", lambda f: (f / "big.qdpx").write_bytes(qdpx_many_sources(190, 1024))),
        "codes CSV of 300 MB (over the limit)": lambda: codes(
            "codes-csv-300MB", lambda f: write_codes_csv(f / "codes.csv", 300)),
        "codes CSV of 19 MB (under the limit)": lambda: codes(
            "codes-csv-19MB", lambda f: write_codes_csv(f / "codes.csv", 19)),
    }
    return {name: build() for name, build in builders.items() if not only or any(w in name for w in only)}


# ---------------------------------------------------------------- running


def _limit_memory() -> None:
    # A reader without a limit must not take the machine down with it: past this much
    # address space the case fails with MemoryError (shown as over the target).
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT_GB << 30, ADDRESS_LIMIT_GB << 30))


def run_case(config: Path, args: list[str], work: Path, timeout: float) -> tuple[float, int, float, str]:
    """(peak RSS in MB, exit code, seconds, the error or last line it printed) of one CLI run."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        command = [sys.executable, "-m", "analysis", "--config", str(config), *args]
        process = subprocess.Popen(command, cwd=work, env=env, stdout=out, stderr=err, preexec_fn=_limit_memory)
        while True:  # os.wait4: this child's own peak (RUSAGE_CHILDREN would be the max of all cases)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                process.kill()
            time.sleep(0.2)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = [line for line in (err.read() + out.read()).decode(errors="replace").splitlines() if line.strip()]
    problem = next((line.strip() for line in lines if line.startswith("  - ")), None)  # a listed problem
    said = problem or next((line for line in lines if line.startswith(("error:", "Traceback", "MemoryError"))), None)
    said = said or (lines[-1] if lines else "")
    return usage.ru_maxrss / 1024, process.returncode, seconds, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", help="build the inputs in this folder and keep them (default: a temporary one)")
    parser.add_argument("--only", nargs="*", help="run only the cases whose name contains one of these words")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a case is killed (default 900)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="hostile-rss-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"building the inputs in {work} ...", flush=True)
        cases = build_cases(work, args.only)
        config = write_settings(work, SAMPLE)
        rows = []
        print(f"{'case':48} {'peak RSS':>10} {'exit':>5} {'time':>7}  outcome")
        for name, cli in cases.items():
            shutil.rmtree(work / "processed", ignore_errors=True)
            rss, code, seconds, said = run_case(config, cli, work, args.timeout)
            rows.append((name, rss))
            flag = "" if rss <= TARGET_MB else "  OVER 2 GB"
            print(f"{name:48} {rss:>7.0f} MB {code:>5} {seconds:>6.1f}s  {said[:110]}{flag}", flush=True)
        if rows:
            name, peak = max(rows, key=lambda r: r[1])
            print(f"max: {peak:.0f} MB ({name}); target <= {TARGET_MB} MB: {'met' if peak <= TARGET_MB else 'NOT met'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
