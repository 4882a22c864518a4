"""Looking for a secret everywhere a library can leave text: the leak search of the kit.

The search is written apart from the masking it checks (``digitorn_notify.secrets``):
a test that derived its forms from the code under test would share its blind spots.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, quote_plus

import attrs

__all__ = ["Finding", "LeakProbe", "LeakReport", "search_forms"]

#: How many leading characters of a secret are searched on their own: a text cut
#: before it was masked leaves such a prefix behind.
PREFIX_LENGTH: Final = 8
_SHORTEST: Final = 16


def _base64_runs(data: bytes) -> dict[str, str]:
    """The base64 characters ``data`` becomes inside any base64 text, per alignment."""
    runs = {}
    for shift in range(3):
        encoded_bits_start = 8 * shift
        first = -(-encoded_bits_start // 6)
        last = (8 * (shift + len(data))) // 6
        for alphabet, encode in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            run = encode(b"\0" * shift + data).decode("ascii")[first:last]
            runs[f"{alphabet}@{shift}"] = run
    return runs


def search_forms(secret: str) -> dict[str, str]:
    """The forms of ``secret`` a leak search looks for, by name.

    ``raw``; ``quote`` (``urllib.parse.quote``, which keeps ``/``), ``quote-all``
    (``safe=""``) and ``quote-plus``; the base64 runs it becomes inside any base64 text
    (HTTP Basic auth, SMTP AUTH), at each byte alignment, in both alphabets; and
    ``prefix``, its first :data:`PREFIX_LENGTH` characters.
    """
    if len(secret) < _SHORTEST:
        raise ValueError(
            f"use a secret of at least {_SHORTEST} random characters (see make_secret()): "
            "a shorter one could appear in ordinary text by chance"
        )
    forms = {
        "raw": secret,
        "quote": quote(secret),
        "quote-all": quote(secret, safe=""),
        "quote-plus": quote_plus(secret),
        "prefix": secret[:PREFIX_LENGTH],
    }
    forms.update(_base64_runs(secret.encode()))
    return forms


@attrs.frozen
class Finding:
    """One place a secret was found: where, in which form, and the text around it
    (with the secret's form replaced by ``<form>``, so the report leaks nothing)."""

    where: str
    form: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: the secret's {self.form} form in ...{self.excerpt}..."


@attrs.define
class LeakReport:
    """What a leak search looked at and found."""

    findings: list[Finding] = attrs.field(factory=list)
    #: Everything searched, by label (a result, a log record, a buffer row ...).
    searched: list[str] = attrs.field(factory=list)

    def assert_clean(self) -> None:
        """Raise ``AssertionError`` listing every finding (without the secret itself)."""
        if self.findings:
            listed = "\n".join(f"  - {finding}" for finding in self.findings)
            raise AssertionError(
                f"a secret leaked in {len(self.findings)} place(s) "
                f"(of {len(self.searched)} searched):\n{listed}"
            )


class _Capture(logging.Handler):
    """Keeps every record, as a handler would print it (except the ``ignored`` loggers')."""

    def __init__(self, ignored: Iterable[str] = ()) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[tuple[str, str]] = []
        self._formatter = logging.Formatter()
        self._ignored = tuple(ignored)

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if any(name == ignored or name.startswith(f"{ignored}.") for ignored in self._ignored):
            return
        parts = [record.getMessage()]
        if record.exc_info:
            parts.append(self._formatter.formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
        standard = logging.LogRecord("", 0, "", 0, "", (), None).__dict__
        # Structured fields passed with extra= are shown by JSON log handlers.
        parts.extend(repr(v) for k, v in record.__dict__.items() if k not in standard)
        self.texts.append((f"log record {record.name}:{record.levelname}", "\n".join(parts)))


def _exception_texts(exc: BaseException, label: str) -> Iterator[tuple[str, str]]:
    """Every text an exception can show, its chain and group members included."""
    seen: set[int] = set()
    stack = [(exc, label)]
    while stack:
        current, where = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield where, "".join(traceback.format_exception(current))
        yield f"{where} repr/args", f"{current!r} {current.args!r} {vars(current)!r}"
        for name in ("__cause__", "__context__"):
            inner = getattr(current, name)
            if inner is not None:
                stack.append((inner, f"{where}.{name}"))
        if isinstance(current, BaseExceptionGroup):
            stack.extend((e, f"{where}[{i}]") for i, e in enumerate(current.exceptions))


class LeakProbe:
    """Collects everything a component shows, then searches it for secrets.

    Use :meth:`capture_logs` around the code under test (records of
    ``ignore_loggers``, the test's own servers, are left out); hand results, health
    records, reprs, exceptions and SQLite files to :meth:`add`, :meth:`add_exception`
    and :meth:`add_sqlite`; then :meth:`report`.
    """

    def __init__(self, secrets: Iterable[str], *, ignore_loggers: Iterable[str] = ()) -> None:
        self._forms = [search_forms(secret) for secret in secrets]
        self._texts: list[tuple[str, str]] = []
        # The test's own servers (aiosmtpd's "mail.log") log what they receive.
        self._handler = _Capture(ignore_loggers)

    @contextmanager
    def capture_logs(self) -> Iterator[None]:
        """Record every log record (DEBUG and up) emitted inside the block."""
        root = logging.getLogger()
        level = root.level
        root.addHandler(self._handler)
        root.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            root.removeHandler(self._handler)
            root.setLevel(level)

    def add(self, label: str, value: Any) -> None:
        """Search ``value``'s ``repr`` (and its ``to_dict()`` when it has one)."""
        self._texts.append((label, repr(value)))
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            self._texts.append((f"{label}.to_dict()", repr(to_dict())))

    def add_text(self, label: str, text: str) -> None:
        """Search ``text`` as it is."""
        self._texts.append((label, text))

    def add_exception(self, label: str, exc: BaseException) -> None:
        """Search an exception: its text, traceback, args and whole chain."""
        self._texts.extend(_exception_texts(exc, label))

    def add_sqlite(self, label: str, path: str | Path) -> None:
        """Search every row of every table of the SQLite file at ``path``."""
        connection = sqlite3.connect(str(path))
        try:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'
                # The table names come from the file's own catalogue, quoted.
                for row in connection.execute(f"SELECT * FROM {quoted}"):  # noqa: S608
                    self._texts.append((f"{label} row of {table}", repr(row)))
        finally:
            connection.close()

    def report(self) -> LeakReport:
        """Search everything collected so far."""
        texts = [*self._texts, *self._handler.texts]
        report = LeakReport(searched=[label for label, _ in texts])
        for label, text in texts:
            for forms in self._forms:
                finding = _find(text, forms)
                if finding is not None:
                    report.findings.append(Finding(label, *finding))
        return report


def _find(text: str, forms: Mapping[str, str]) -> tuple[str, str] | None:
    lowered = text.lower()
    for name, form in forms.items():
        # Text forms are searched in any case (an upper-cased echo still leaks);
        # base64 is case-sensitive by nature.
        case_blind = not name.startswith("base64")
        position = lowered.find(form.lower()) if case_blind else text.find(form)
        if position >= 0:
            start = max(0, position - 40)
            end = position + len(form) + 40
            excerpt = f"{text[start:position]}<{name}>{text[position + len(form) : end]}"
            # The excerpt must not carry another form of the same secret.
            for other in forms.values():
                excerpt = excerpt.replace(other, "<secret>")
            return name, excerpt.replace("\n", "\\n")
    return None
