"""De-identification of speech, before anything is written.

Names come from what the corpus itself says about people (speaker labels that are names,
`<v Name>` voice tags, one-off `Name:` lines, titles, file and folder names), from the
researcher (``privacy.names``, ``privacy.pseudonyms``) and from two narrow speech patterns:
introductions ("my name is X", "I'm X and ...", "hi, this is X") and honorifics
("Professor X", "Dr X"). Every occurrence of such a name in any transcript is replaced by
a stable placeholder: the speaker's id (``[I7-interviewer-2]``) in the interview where the
name is a speaker label, ``[name-3]`` elsewhere, or the researcher's pseudonym.

This is rule-based: no named-entity model. A name said in passing ("thanks, Amin") is
caught only when the same name is known from one of the routes above; add the others to
``privacy.names``.

Example:
    >>> d = Deidentifier()
    >>> d.learn_from_text("Hi, my name is Zephyrine and I work on Python.")
    >>> d.add("Alice", "label", interview_id="7", placeholder="[I7-interviewer-2]")
    >>> d.mask("Zephyrine asked Alice about TensorFlow.", "7")
    '[name-1] asked [I7-interviewer-2] about TensorFlow.'
    >>> d.mask("Alice said so.", "8")
    '[name-2] said so.'
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import TranscriptError

# Capitalised words that are not names: function words, role words, placeholders already
# in transcripts, calendar words, honorifics, words that label a line (`Note:`), and names
# of tools that speakers of the reference study use. Kept short on purpose: a name is
# learned only on the routes above, so this list only trims those routes.
COMMON_WORDS = frozenset(
    """
    a about after again all also am an and any are as at be because been before being both but by can could
    did do does doing done down during each even ever every few for from further had has have having he her here
    hers him his how however i if in into is it its itself just let like may me might mine more most much must my
    no nor not now of off on once only or other our out over own same she should since so some such than that the
    their them then there these they this those though through to too under until up very was we well were what
    when where which while who whom why will with would yes yet you your yours okay ok yeah hi hello hey thanks
    thank sorry sure right oh uh um hmm mm so actually basically maybe please good great fine cool alright
    interview interviews interviewer interviewee interviewees moderator facilitator researcher host participant
    respondent candidate speaker unknown transcript transcripts transcription recording session part round wave
    group notes note pilot draft final raw clean cleaned copy version english french audio video zoom teams call
    meeting text file files folder data codes coding coded coder consensus
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday morning afternoon evening
    mr mrs ms miss mx dr prof professor sir madam
    example examples question questions answer answers summary edit update warning step tip source result output
    input error reason problem solution goal context comment comments remark remarks aside end start begin intro
    introduction conclusion background topic issue issues fix fixes yes no maybe true false
    master masters phd bachelor student students engineer engineers scientist manager team lead company university
    python java javascript tensorflow pytorch keras scikit sklearn pandas numpy spark hadoop kafka docker kubernetes
    aws azure google amazon microsoft apple facebook meta github gitlab jira excel sql linux windows mac
    ai ml nlp api gpu cpu ci cd
    """.split()
)
ROLE_LIKE_RE = re.compile(r"^(?:[A-Z]|[A-Z]\d+|\d+)$")  # `X`, `P3`: placeholders a transcriber already put
WORD = r"[^\W\d_][^\W\d_'\u2019-]*(?:['\u2019-][^\W\d_]+)*"
NAME = rf"(?P<name>{WORD}(?:[ \t]+{WORD}){{0,2}})"
_MY_NAME = r"\bmy[ \t]+(?:full[ \t]+|first[ \t]+|last[ \t]+)?name(?:'s|\u2019s|[ \t]+is)[ \t]+"
_GREETING = r"\b(?:hi|hello|hey)\b[,.!]?(?:[ \t]+(?:everyone|all|there)[,.!]?)?[ \t]+"
_SELF = r"(?:this[ \t]+is|it's|it\u2019s|I'm|I\u2019m|I[ \t]+am)[ \t]+"
INTRODUCTION_RES = [
    ("introduction", re.compile(_MY_NAME + NAME, re.I)),
    ("introduction", re.compile(rf"\bI(?:'m|\u2019m|[ \t]+am)[ \t]+{NAME}[ \t]*,?[ \t]+and\b")),
    ("introduction", re.compile(_GREETING + _SELF + NAME, re.I)),
    ("introduction", re.compile(rf"\bthis[ \t]+is[ \t]+{NAME}[ \t]+(?:speaking|here)\b", re.I)),
    ("introduction", re.compile(rf"\bcall[ \t]+me[ \t]+{NAME}", re.I)),
    ("honorific", re.compile(rf"\b(?:Professor|Prof\.?|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Mx\.?)[ \t]+{NAME}")),
]
# `Zephyrine Quackenbush: hello` inside a turn: a label the parser did not take as a speaker.
ONE_OFF_LABEL_RE = re.compile(rf"^\s*(?P<name>{WORD}(?:[ \t]+{WORD}){{0,2}})[ \t]*:")
PLACEHOLDER_RE = re.compile(r"\[(?:I[\w-]*|name-\d+)\]")


def _is_name_word(word: str) -> bool:
    """A capitalised word that is not a common word (`Python`, `Note`), an acronym (`NLP`)
    nor a placeholder a transcriber already put (`X`, `P3`)."""
    bare = word.strip("'\u2019-")
    return (
        len(bare) >= 2
        and bare[0].isupper()
        and not bare.isupper()
        and bare.lower() not in COMMON_WORDS
        and not ROLE_LIKE_RE.match(bare)
    )


def leading_name(candidate: str) -> str | None:
    """The leading run of name words of ``candidate`` (`Amin Rached the` -> `Amin Rached`)."""
    words = []
    for word in candidate.split():
        if not _is_name_word(word):
            break
        words.append(word)
    return " ".join(words) or None


def names_in_title(text: str) -> list[str]:
    """Runs of capitalised, uncommon words in a title or a file or folder name: the person
    a file is named after (`Interview 43 with Zephyrine Quackenbush`, `## Alice interview`)."""
    found, run = [], []
    for word in re.split(r"[\s_.,;:()\[\]{}#*/\\+&]+|(?<=\D)-|-(?=\D)", text):
        if word and _is_name_word(word):
            run.append(word)
            continue
        if run:
            found.append(" ".join(run))
        run = []
    if run:
        found.append(" ".join(run))
    return found


def introduced_names(text: str) -> list[tuple[str, str]]:
    """Names a speaker gives in an introduction or after an honorific, with the rule's name.

    Example:
        >>> introduced_names("So, so I'm Rached and I'm doing my master. My name is X.")
        [('Rached', 'introduction')]
    """
    found = []
    for rule, pattern in INTRODUCTION_RES:
        for m in pattern.finditer(text):
            name = leading_name(m.group("name"))
            if name:
                found.append((name, rule))
    return found


def one_off_label(line: str) -> str | None:
    """The name of a `Name: text` line that stayed in a turn's text, if it looks like a name."""
    m = ONE_OFF_LABEL_RE.match(line)
    if not m:
        return None
    name = leading_name(m.group("name"))
    return name if name == " ".join(m.group("name").split()) else None


def read_pseudonyms(source: dict[str, str] | str | Path | None) -> dict[str, str]:
    """The researcher's pseudonym table: a mapping, or a CSV file of ``name,pseudonym`` rows.

    Raises:
        TranscriptError: the CSV cannot be read or a row lacks a name or a pseudonym
            (the message names the file and line).
    """
    if source is None:
        return {}
    if isinstance(source, dict):
        return {str(k).strip(): str(v).strip() for k, v in source.items() if str(k).strip()}
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(path, f"cannot read the pseudonym table ({exc.__class__.__name__}: {exc})") from None
    table: dict[str, str] = {}
    for line_no, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip():
            continue
        if line_no == 1 and [c.strip().lower() for c in row[:2]] == ["name", "pseudonym"]:
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise TranscriptError(path, "expected `name,pseudonym` (both filled)", line_no)
        table[row[0].strip()] = row[1].strip()
    return table


@dataclass
class _Entry:
    name: str
    source: str
    placeholder: str  # the corpus-wide one ([name-N] or the researcher's pseudonym)


class Deidentifier:
    """Replaces known names in text by stable placeholders; counts what it replaced.

    Args:
        pseudonyms: ``{name: placeholder}`` chosen by the researcher; they win over
            the generated ``[name-N]`` and speaker ids.
    """

    def __init__(self, pseudonyms: dict[str, str] | None = None):
        self.pseudonyms = {k.casefold(): v for k, v in (pseudonyms or {}).items()}
        self._entries: dict[str, _Entry] = {}  # casefolded name -> entry
        self._speaker: dict[tuple[str, str], str] = {}  # (interview id, casefolded name) -> [speaker id]
        self._variants: dict[str, str] = {}  # variant as written -> casefolded name
        self._global: set[str] = set()  # names replaced wherever they occur
        self._pattern: re.Pattern | None = None
        taken = {int(m.group(1)) for v in self.pseudonyms.values() for m in [re.fullmatch(r"\[name-(\d+)\]", v)] if m}
        self._numbers = (n for n in range(1, 10**9) if n not in taken)
        self.replacements: Counter = Counter()  # source of the name -> replacements made
        for name in (pseudonyms or {}):
            self.add(name, "pseudonym table")

    def add(
        self,
        name: str,
        source: str,
        *,
        interview_id: str | None = None,
        placeholder: str | None = None,
        everywhere: bool = True,
    ) -> None:
        """Learn a name; with ``interview_id`` and ``placeholder``, the name stands for that
        speaker in that interview (`Alice` -> ``[I7-interviewer-2]``). A name learned with
        ``everywhere=False`` is replaced only where a speech pattern gives it."""
        name = " ".join(name.split()).strip("'\u2019-")
        if len(name) < 2:
            return
        key = name.casefold()
        if key not in self._entries:
            self._entries[key] = _Entry(name, source, self.pseudonyms.get(key) or f"[name-{next(self._numbers)}]")
        if everywhere and key not in self._global:
            self._global.add(key)
            self._pattern = None
            words = [w for w in re.split(r"[^\w'\u2019-]+", name) if w]
            parts = [name] + ([w for w in words if _is_name_word(w)] if len(words) > 1 else [])
            for part in parts:
                for variant in {part, part.title(), part.upper()}:
                    self._variants.setdefault(variant, key)
        if interview_id is not None and placeholder and key not in self.pseudonyms:
            self._speaker.setdefault((interview_id, key), placeholder)

    def learn_from_text(self, text: str) -> None:
        """Learn the names given in introductions and after honorifics in ``text``. A name
        of two letters (`Pi`) is too ambiguous to replace everywhere (`Pi spark`): it is
        replaced where the pattern gives it."""
        for name, rule in introduced_names(text):
            self.add(name, rule, everywhere=len(name) > 2)

    def names(self) -> list[str]:
        return [e.name for e in self._entries.values()]

    def _regex(self) -> re.Pattern | None:
        if self._pattern is None and self._variants:
            alternatives = sorted(self._variants, key=len, reverse=True)
            self._pattern = re.compile(r"(?<![\w\[-])(?:" + "|".join(map(re.escape, alternatives)) + r")(?![\w\]])")
        return self._pattern

    def mask(self, text, interview_id: str | None = None):
        """``text`` with every known name replaced by its placeholder (non-strings pass)."""
        if not isinstance(text, str) or not text:
            return text
        local = set(self._entries) - self._global
        if local:
            text = self._mask_local(text, local, interview_id)
        pattern = self._regex()
        if pattern is None:
            return text

        def replace(m: re.Match) -> str:
            key = self._variants[m.group(0)]
            entry = self._entries[key]
            self.replacements[entry.source] += 1
            return self._speaker.get((interview_id, key), entry.placeholder)

        return pattern.sub(replace, text)

    def _mask_local(self, text: str, local: set[str], interview_id: str | None) -> str:
        """Replace names known only from speech patterns where those patterns give them."""
        for _, pattern in INTRODUCTION_RES:

            def replace(m: re.Match) -> str:
                name = leading_name(m.group("name"))
                key = name.casefold() if name else None
                if key not in local:
                    return m.group(0)
                entry = self._entries[key]
                self.replacements[entry.source] += 1
                start, end = m.start("name") - m.start(0), m.start("name") - m.start(0) + len(name)
                placeholder = self._speaker.get((interview_id, key), entry.placeholder)
                return m.group(0)[:start] + placeholder + m.group(0)[end:]

            text = pattern.sub(replace, text)
        return text

    def summary(self) -> pd.DataFrame:
        """Replacements made per route a name was learned on (no names in it)."""
        learned = Counter(e.source for e in self._entries.values())
        rows = [
            {"learned_from": s, "names": learned.get(s, 0), "replacements": self.replacements.get(s, 0)}
            for s in sorted(set(learned) | set(self.replacements))
        ]
        return pd.DataFrame(rows, columns=["learned_from", "names", "replacements"])
