"""Review widget: serves the review queue's answers one at a time, each with its question,
the turns before and after, and the suite's suggestion (probabilities and evidence);
the researcher decides with one button per stage, "none" or "skip", or by keys. Each
decision is appended at once to the review log, which later runs read as human codes.

Keys: ipywidgets sees no key presses outside its own inputs, so the widget has a key box:
type a stage's number (``1``..``n``; several: ``1 3``), ``0`` for none or ``s`` for skip,
then Enter.

All logic is here so it is tested without a browser: call :meth:`ReviewWidget.decide`,
:meth:`ReviewWidget.press` or click the buttons, then read :attr:`ReviewWidget.current`
or :meth:`ReviewWidget.render`.

Example:
    >>> review = ReviewWidget(coding, turns, ReviewLog("data/codes/review.csv"), taxonomy)   # doctest: +SKIP
    >>> review.widget                                                                       # doctest: +SKIP
"""

from __future__ import annotations

import html
import re

import pandas as pd

from ..human_codes import ReviewLog, review_context, suggested_stages

NEIGHBOUR_CHARS = 600  # the turns around the answer are context: long ones are cut
NO_STAGE = "none"  # the log's code for "reviewed: no stage"
KEY_HELP = "Keys: type a stage's number (several: 1 3), 0 for none or s for skip, then Enter."


class ReviewWidget:
    """Serve ``review_queue`` batches and record each decision in ``log``.

    Args:
        coding: the ``StageCoding`` to review (``p_<stage>``, ``p_coded``, ``uncertain``
            columns are shown when present).
        turns: the turns table (questions and neighbouring turns).
        log: where decisions are appended.
        taxonomy: the stages (their names label the buttons).
        batch_size: answers asked of the queue at a time.
        coder: written with each decision.
        seed: passed to the queue.
    """

    def __init__(
        self,
        coding,
        turns: pd.DataFrame,
        log: ReviewLog,
        taxonomy,
        batch_size: int = 10,
        coder: str = "researcher",
        seed: int = 42,
    ):
        import ipywidgets as w  # needs a kernel: loaded only for the live widget

        self.coding = coding
        self.rows = coding.table.set_index("turn_id", drop=False)
        self.turns = turns
        self.log = log
        self.stage_ids = list(taxonomy.ids)
        self.stage_names = {s.id: s.name for s in taxonomy.stages}
        self.batch_size = batch_size
        self.coder = coder
        self.seed = seed
        self.session_skips: set[str] = set()  # served no more in this session; a later one asks again
        self.batch = pd.DataFrame(columns=["turn_id", "interview_id", "turn_index", "priority", "why"])
        self.batch_no = 0
        self.position = 0
        self.decided = 0  # in this session
        self.message = ""

        self.stage_buttons = []
        for number, stage in enumerate(self.stage_ids, start=1):
            button = w.Button(description=f"{number} · {self.stage_names.get(stage, stage)}", tooltip=stage)
            button.on_click(lambda _, s=stage: self.decide([s]))
            self.stage_buttons.append(button)
        self.none_button = w.Button(description="0 · none", tooltip="reviewed: no stage")
        self.none_button.on_click(lambda _: self.decide([]))
        self.skip_button = w.Button(description="s · skip", tooltip="not now: asked again in a later session")
        self.skip_button.on_click(lambda _: self.skip())
        # continuous_update=False: the value arrives on Enter, not on every letter
        self.keys = w.Text(description="Keys", placeholder="1-9, 0, s + Enter", continuous_update=False)
        self.keys.observe(self._on_keys, names="value")
        self.status = w.HTML()
        self.output = w.HTML()
        self.widget = w.VBox(
            [
                self.status,
                self.output,
                w.HBox(self.stage_buttons[:4]),
                w.HBox(self.stage_buttons[4:] + [self.none_button, self.skip_button]),
                w.HBox([self.keys, w.HTML(f"<span style='color:#555'>{html.escape(KEY_HELP)}</span>")]),
            ]
        )
        self._next_batch()
        self._refresh()

    # ---------------------------------------------------------------- queue

    def _next_batch(self) -> None:
        from ..stages import review_queue  # the suite's ranking of what a code would teach it

        reviewed = set(self.log.decisions()) | self.session_skips
        batch = review_queue(self.coding, reviewed=reviewed, size=self.batch_size, seed=self.seed)
        self.batch = batch[~batch["turn_id"].isin(reviewed)].reset_index(drop=True)
        self.context = review_context(self.turns, self.batch["turn_id"].tolist()).set_index("turn_id", drop=False)
        self.position = 0
        if len(self.batch):
            self.batch_no += 1

    @property
    def current(self) -> dict | None:
        """The answer being reviewed: its queue row, coding row and context; ``None`` when
        the queue is empty."""
        if self.position >= len(self.batch):
            return None
        queued = self.batch.iloc[self.position].to_dict()
        context = self.context.loc[queued["turn_id"]].to_dict()
        stages, probabilities = suggested_stages(self.rows.loc[queued["turn_id"]].to_dict(), self.stage_ids)
        row = self.rows.loc[queued["turn_id"]]
        return {
            **context,
            **{k: queued[k] for k in ("priority", "why") if k in queued},
            "turn_id": queued["turn_id"],
            "suggested": stages,
            "probabilities": probabilities,
            "stage_probabilities": {s: float(row[f"p_{s}"]) for s in self.stage_ids if f"p_{s}" in row},
            "uncertain": bool(row["uncertain"]) if "uncertain" in row and pd.notna(row["uncertain"]) else False,
            "evidence": str(row["matched_cues"]) if "matched_cues" in row and pd.notna(row["matched_cues"]) else "",
        }

    # ---------------------------------------------------------------- decisions

    def decide(self, stages: list[str]) -> None:
        """Record ``stages`` (``[]``: no stage) for the current answer and show the next.

        Raises:
            ValueError: a stage id not in the taxonomy.
        """
        unknown = [s for s in stages if s not in self.stage_ids]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a stage id ({', '.join(self.stage_ids)})")
        now = self.current
        if now is None:
            return
        self.log.record(now["turn_id"], now["interview_id"], int(now["turn_index"]), list(stages), self.coder)
        self.decided += 1
        names = ", ".join(self.stage_names.get(s, s) for s in stages) or "none"
        self.message = f"Recorded {html.escape(now['turn_id'])}: {html.escape(names)}."
        self._advance()

    def skip(self) -> None:
        """Skip the current answer: logged as a skip, not served again in this session."""
        now = self.current
        if now is None:
            return
        self.log.skip(now["turn_id"], now["interview_id"], int(now["turn_index"]), self.coder)
        self.session_skips.add(now["turn_id"])
        self.message = f"Skipped {html.escape(now['turn_id'])}."
        self._advance()

    def press(self, keys: str) -> None:
        """Decide by keys: stage numbers (``1``..``n``, several separated by spaces or commas),
        ``0`` (none) or ``s`` (skip). Anything else records nothing and says why."""
        tokens = [t for t in re.split(r"[\s,;]+", keys.strip().lower()) if t]
        if tokens == ["s"]:
            self.skip()
        elif tokens == ["0"]:
            self.decide([])
        elif tokens and all(t.isdigit() and 1 <= int(t) <= len(self.stage_ids) for t in tokens):
            self.decide(list(dict.fromkeys(self.stage_ids[int(t) - 1] for t in tokens)))
        else:
            self.message = f"<span style='color:#D55E00'>{html.escape(keys)}: not a key. {html.escape(KEY_HELP)}</span>"
            self._refresh()

    def _on_keys(self, change) -> None:
        if change["new"].strip():
            value = change["new"]
            self.keys.value = ""  # ready for the next answer (observed again with "", ignored)
            self.press(value)

    def _advance(self) -> None:
        self.position += 1
        if self.position >= len(self.batch):
            self._next_batch()
        self._refresh()

    # ---------------------------------------------------------------- display

    def progress(self) -> str:
        """``12 reviewed, batch 2, 8 left`` (reviewed: decisions in the log; left: in this batch)."""
        left = max(len(self.batch) - self.position, 0)
        return f"{len(self.log.decisions())} reviewed, batch {self.batch_no}, {left} left"

    def render(self) -> str:
        """The HTML the output shows for the current answer, every text escaped."""
        now = self.current
        if now is None:
            return "<p><b>Nothing left to review</b>: the queue is empty.</p>"
        muted = "color:#555;font-size:90%;margin:.3em 0"
        where = (
            f"Interview {html.escape(str(now['interview_id']))} · turn {int(now['turn_index'])} · "
            f"{html.escape(str(now['source_file']))}:{int(now['line_start'])}"
        )
        if "why" in now and isinstance(now["why"], str) and now["why"]:
            where += f" · asked because: {html.escape(now['why'])}"
        parts = [f"<div style='{muted}'>{where}</div>"]
        if now["question"] and now["question_turn_id"] != now["previous_turn_id"]:
            parts.append(f"<div style='{muted}'><b>Question:</b> {_text(now['question'], NEIGHBOUR_CHARS)}</div>")
        if now["previous_turn"]:
            label = "Before (the question)" if now["question_turn_id"] == now["previous_turn_id"] else "Before"
            parts.append(
                f"<div style='{muted}'><b>{label}</b> [{html.escape(now['previous_role'])}]: "
                f"{_text(now['previous_turn'], NEIGHBOUR_CHARS)}</div>"
            )
        parts.append(
            "<div style='margin:.5em 0;padding:.5em .7em;border-left:4px solid #0072B2;background:#f4f8fb'>"
            f"{_text(now['text'])}</div>"
        )
        if now["next_turn"]:
            parts.append(
                f"<div style='{muted}'><b>After</b> [{html.escape(now['next_role'])}]: "
                f"{_text(now['next_turn'], NEIGHBOUR_CHARS)}</div>"
            )
        suggested = ", ".join(
            f"{html.escape(self.stage_names.get(s, s))}"
            + (f" ({now['probabilities'][s]:.2f})" if s in now["probabilities"] else "")
            for s in now["suggested"]
        ) or "no stage" + (f" ({now['probabilities'][NO_STAGE]:.2f})" if NO_STAGE in now["probabilities"] else "")
        flag = " · <span style='color:#D55E00'>uncertain</span>" if now["uncertain"] else ""
        parts.append(f"<div><b>Suggested:</b> {suggested}{flag}</div>")
        if now["evidence"]:
            evidence = html.escape(now["evidence"])
            parts.append(f"<div style='{muted}'><b>Evidence</b> (cue phrases said): {evidence}</div>")
        if now["stage_probabilities"]:
            each = " · ".join(
                f"{k} {html.escape(self.stage_names.get(s, s))} {now['stage_probabilities'][s]:.2f}"
                for k, s in enumerate(self.stage_ids, start=1)
                if s in now["stage_probabilities"]
            )
            parts.append(f"<div style='{muted}'>{each}</div>")
        return "".join(parts)

    def queue_table(self) -> pd.DataFrame:
        """The answers left in the current batch, in serving order, with the suggestion (for
        the static view of HTML reports, where the widget cannot run)."""
        left = self.batch.iloc[self.position :]
        rows = []
        for queued in left.to_dict("records"):
            stages, probabilities = suggested_stages(self.rows.loc[queued["turn_id"]].to_dict(), self.stage_ids)
            rows.append(
                {
                    "interview": queued["interview_id"],
                    "turn": int(queued["turn_index"]),
                    "priority": queued.get("priority"),
                    "why": queued.get("why"),
                    "suggested": ", ".join(f"{s} {p:.2f}" for s, p in probabilities.items()) or ";".join(stages),
                    "answer": _short(str(self.rows.at[queued["turn_id"], "text"]), 160),
                }
            )
        return pd.DataFrame(rows, columns=["interview", "turn", "priority", "why", "suggested", "answer"])

    def _refresh(self) -> None:
        note = f" · {self.message}" if self.message else ""
        self.status.value = f"<b>{html.escape(self.progress())}</b>{note}"
        self.output.value = self.render()
        done = self.current is None
        for button in [*self.stage_buttons, self.none_button, self.skip_button]:
            button.disabled = done


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text(text, limit: int | None = None) -> str:
    text = " ".join(str(text).split())
    return html.escape(_short(text, limit) if limit else text)
