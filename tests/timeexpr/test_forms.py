"""The forms we advertise parse: those in the error message and in the docs' table."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import digitorn_notify.timeexpr as timeexpr
from digitorn_notify.timeexpr import parse_time_expression
from digitorn_notify.timeexpr._errors import ACCEPTED_FORMS

NOW = datetime(2026, 3, 13, 16, 30, tzinfo=ZoneInfo("Europe/Paris"))
DOC = Path(__file__).resolve().parents[2] / "docs" / "time-expressions.md"


def table_examples() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("### Accepted forms") : text.index("Units:")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return [example for row in rows[1:] for example in re.findall(r"`([^`]+)`", row)]


MESSAGE_EXAMPLES = re.findall(r"'([^']+)'", ACCEPTED_FORMS)


@pytest.mark.parametrize("text", MESSAGE_EXAMPLES)
def test_the_error_message_examples_parse(text: str) -> None:
    parse_time_expression(text, now=NOW, tz="Europe/Paris")


@pytest.mark.parametrize("text", table_examples())
def test_the_documented_examples_parse(text: str) -> None:
    parse_time_expression(text, now=NOW, tz="Europe/Paris")


def test_the_documented_table_is_not_empty() -> None:
    assert len(table_examples()) > 100


def test_all_lists_the_public_names() -> None:
    assert timeexpr.__all__ == sorted(timeexpr.__all__)
    for name in timeexpr.__all__:
        assert getattr(timeexpr, name).__doc__, name
