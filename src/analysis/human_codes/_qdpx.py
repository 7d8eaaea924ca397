"""Human codes from a REFI-QDA project (``.qdpx``), e.g. the suite's export after a
researcher coded it in NVivo, ATLAS.ti, MAXQDA or QualCoder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._ids import ID_FROM_TEXT_RE
from ..qda import QdpxError, read_qdpx

__all__ = ["QdpxError", "qdpx_codes"]


def qdpx_codes(
    path: str | Path, turns: pd.DataFrame, code_map, stage_names: dict[str, str], keep_names: bool = False
) -> pd.DataFrame:
    """The codings of a ``.qdpx`` project as human codes, one row per (turn, code).

    A selection codes every turn of its source whose text span it overlaps. A code
    names a stage when it (or a parent) is named like a stage (its id or display
    name); otherwise its name goes through the code-to-stage table. The ``Kind`` codes
    of the suite's own export set the kind; ``-fix`` codes are mitigations.
    """
    project = read_qdpx(path)
    codes = project.all_codes()
    by_name = {name.lower(): sid for sid, name in stage_names.items()} | {sid.lower(): sid for sid in stage_names}
    # coder-1, coder-2, ... in the order the project lists its users
    coder_ids = {name: f"coder-{k}" for k, name in enumerate(dict.fromkeys(project.users.values()), start=1)}
    rows = []
    for source in project.sources:
        m = ID_FROM_TEXT_RE.search(source.name)
        interview_id = str(int(m.group(1))) if m else source.name
        group = turns[turns["interview_id"] == interview_id]
        if group.empty:
            raise QdpxError(f"{Path(path).name}: source {source.name!r} matches no loaded interview")
        # Spans of the turns as they stand in this source's text (found in order).
        located, cursor = {}, 0
        for row in group.sort_values("turn_index").itertuples():
            at = source.text.find(str(row.text), cursor) if str(row.text) else -1
            if at >= 0:
                located[row.turn_index] = (at, at + len(str(row.text)))
                cursor = at + len(str(row.text))
        for selection in [s for s in project.selections if s.source == source.guid]:
            user = project.users.get(selection.user, selection.user or "unknown")
            coder = user if keep_names else coder_ids.setdefault(user, f"coder-{len(coder_ids) + 1}")
            hit = [t for t, (a, b) in located.items() if a < selection.end and selection.start < b]
            kind = None
            for ref in selection.codes:
                code, parent = codes[ref]
                if parent is not None and parent.name == "Kind":
                    kind = code.name
            for ref in selection.codes:
                code, parent = codes[ref]
                if parent is not None and parent.name == "Kind":
                    continue
                stage = by_name.get(code.name.lower()) or (
                    by_name.get(parent.name.lower()) if parent is not None else None
                )
                if stage:
                    status, code_kind = "mapped", kind or ("fix" if code.name.lower().endswith("-fix") else "issue")
                else:
                    stage, code_kind, status = code_map.classify(code.name)
                for turn_index in hit:
                    rows.append(
                        {
                            "interview_id": interview_id,
                            "coder": coder,
                            "source_file": f"{Path(path).name}#{coder}",
                            "turn_index": turn_index,
                            "pdf_turn": None,
                            "speaker": None,
                            "code": code.name,
                            "stage": stage,
                            "kind": code_kind,
                            "status": status,
                        }
                    )
    return pd.DataFrame(rows)
