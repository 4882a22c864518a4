"""Turn expression text into tokens, and format syntax errors with a caret.

Outside string literals an expression is plain ASCII: letters, digits and ``_`` make
names, ``0``-``9`` make numbers. Anything else (a full-width digit, a zero-width
space, a Cyrillic letter that looks like ``a``) is refused with its Unicode name, so a
look-alike can never smuggle in a different meaning.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Final

import attrs

from digitorn_notify.errors import ExpressionError

__all__ = ["MAX_INT_DIGITS", "Token", "syntax_error", "tokenize"]

# A literal of more digits than this is refused: no legitimate threshold needs it, and
# huge ints are slow to compare and to print.
MAX_INT_DIGITS: Final = 20
_MAX_NUMBER_CHARS: Final = 40
_MAX_EXPONENT_DIGITS: Final = 3

_DIGITS: Final = frozenset("0123456789")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_NAME_START: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS: Final = _NAME_START | _DIGITS
_SPACE: Final = frozenset(" \t\r\n")
_TWO_CHAR_OPS: Final = frozenset({"==", "!=", "<=", ">="})
_ONE_CHAR_OPS: Final = frozenset("<>()[],.-")
# JSON's escapes plus \', so any JSON string literal is also a string literal here.
_ESCAPES: Final = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
# Operators from other languages, refused with what to write instead.
_FOREIGN_OPS: Final = {
    "&&": "use 'and'",
    "||": "use 'or'",
    "&": "use 'and'",
    "|": "use 'or'",
    "!": "use 'not', or '!=' to compare",
    "=": "compare with '=='",
}


@attrs.frozen
class Token:
    """One token; ``kind`` is ``name``, ``number``, ``string``, ``op`` or ``end``."""

    kind: str
    text: str
    value: int | float | str | None
    start: int
    end: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind == "end":
            return "the end of the expression"
        shown = self.text if len(self.text) <= 24 else self.text[:24] + "…"
        if self.kind == "number":
            return f"the number {shown}"
        if self.kind == "string":
            return f"the string {shown}"
        return f"'{shown}'"


def _cell(char: str) -> tuple[str, int]:
    # What to show for one character of the excerpt, and how many columns it takes,
    # so the caret lands under the right character even after wide or invisible ones.
    if char == "\t":
        return " ", 1
    if not char.isprintable():
        return "?", 1
    if unicodedata.combining(char):
        return char, 0
    return char, 2 if unicodedata.east_asian_width(char) in "WF" else 1


def syntax_error(message: str, text: str, offset: int) -> ExpressionError:
    """An :class:`ExpressionError` at ``offset`` (0-based) with a caret under the spot.

    ``column`` is 1-based and counts every character of ``text``; for a text of several
    lines the message also names the line. Long lines are cut around the spot.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    position = offset - line_start
    low, high = max(0, position - 50), min(len(line), position + 30)
    cells = [_cell(char) for char in line[low:high]]
    before = "…" if low > 0 else ""
    excerpt = before + "".join(shown for shown, _ in cells) + ("…" if high < len(line) else "")
    pad = len(before) + sum(width for _, width in cells[: position - low])
    where = f"column {offset + 1}"
    if "\n" in text:
        where += f" (line {text.count(chr(10), 0, offset) + 1}, character {position + 1})"
    return ExpressionError(
        f"{where}: {message}\n  {excerpt}\n  {' ' * pad}^",
        column=offset + 1,
        text=text,
    )


def _unexpected_character(char: str) -> str:
    label = f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()
    shown = f"{char!r} ({label})" if char.isprintable() and not char.isspace() else label
    hint = "; outside quotes an expression is plain ASCII" if ord(char) > 127 else ""
    return f"unexpected character {shown}{hint}"


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; raises ExpressionError."""
    tokens: list[Token] = []
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        if char in _SPACE:
            index += 1
        elif char in _NAME_START:
            end = index + 1
            while end < size and text[end] in _NAME_CHARS:
                end += 1
            word = text[index:end]
            tokens.append(Token("name", word, word, index, end))
            index = end
        elif char in _DIGITS:
            token = _number(text, index)
            tokens.append(token)
            index = token.end
        elif char in "'\"":
            token = _string(text, index)
            tokens.append(token)
            index = token.end
        elif text[index : index + 2] in _TWO_CHAR_OPS:
            tokens.append(Token("op", text[index : index + 2], None, index, index + 2))
            index += 2
        elif char in _ONE_CHAR_OPS:
            tokens.append(Token("op", char, None, index, index + 1))
            index += 1
        else:
            foreign = text[index : index + 2] if text[index : index + 2] in _FOREIGN_OPS else char
            if foreign in _FOREIGN_OPS:
                hint = _FOREIGN_OPS[foreign]
                raise syntax_error(f"'{foreign}' is not an operator here; {hint}", text, index)
            raise syntax_error(_unexpected_character(char), text, index)
    tokens.append(Token("end", "", None, size, size))
    return tokens


def _digits(text: str, index: int) -> int:
    while index < len(text) and text[index] in _DIGITS:
        index += 1
    return index


def _number(text: str, start: int) -> Token:
    end = _digits(text, start)
    whole = end - start
    if whole > 1 and text[start] == "0":
        raise syntax_error("a number cannot start with 0 (leading zeros are refused)", text, start)
    is_float = False
    if text[end : end + 1] == "." and text[end + 1 : end + 2] in _DIGITS:
        end = _digits(text, end + 1)
        is_float = True
    if text[end : end + 1] in ("e", "E"):
        mark = end
        end += 2 if text[end + 1 : end + 2] in ("+", "-") else 1
        exponent_end = _digits(text, end)
        if exponent_end == end or exponent_end - end > _MAX_EXPONENT_DIGITS:
            raise syntax_error(
                f"a number's exponent needs 1 to {_MAX_EXPONENT_DIGITS} digits", text, mark
            )
        end = exponent_end
        is_float = True
    if end < len(text) and text[end] in _NAME_CHARS:
        raise syntax_error(
            "a number runs straight into a name; put a space or an operator between", text, end
        )
    literal = text[start:end]
    if whole > MAX_INT_DIGITS or len(literal) > _MAX_NUMBER_CHARS:
        raise syntax_error(
            f"the number is too long; at most {MAX_INT_DIGITS} digits before the decimal point"
            f" and {_MAX_NUMBER_CHARS} characters in all",
            text,
            start,
        )
    if not is_float:
        return Token("number", literal, int(literal), start, end)
    value = float(literal)
    if not math.isfinite(value):
        raise syntax_error("the number is out of range (it would be infinite)", text, start)
    return Token("number", literal, value, start, end)


def _string(text: str, start: int) -> Token:
    quote = text[start]
    parts: list[str] = []
    index, size = start + 1, len(text)
    while True:
        if index >= size:
            raise syntax_error(f"unterminated string: no closing {quote}", text, start)
        char = text[index]
        if char == quote:
            return Token("string", text[start : index + 1], "".join(parts), start, index + 1)
        if char == "\\":
            escaped, index = _escape(text, index)
            parts.append(escaped)
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise syntax_error(
                "a control character inside a string; escape it (\\n, \\t, \\r, \\uXXXX)",
                text,
                index,
            )
        if category == "Cs":
            raise syntax_error("a lone surrogate inside a string", text, index)
        parts.append(char)
        index += 1


def _escape(text: str, index: int) -> tuple[str, int]:
    # ``text[index]`` is the backslash; returns the character and where to go on.
    code = text[index + 1 : index + 2]
    if code in _ESCAPES:
        return _ESCAPES[code], index + 2
    if code == "u":
        point = _hex4(text, index)
        if 0xD800 <= point <= 0xDBFF and text[index + 6 : index + 8] == "\\u":
            # A JSON surrogate pair (what json.dumps writes for an emoji) is one character.
            low = _hex4(text, index + 6)
            if 0xDC00 <= low <= 0xDFFF:
                return chr(0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00)), index + 12
        if 0xD800 <= point <= 0xDFFF:
            raise syntax_error("a \\u escape of a lone surrogate (D800-DFFF)", text, index)
        return chr(point), index + 6
    if not code:
        raise syntax_error("unterminated string: it ends with a backslash", text, index)
    raise syntax_error(
        "unknown escape; the escapes are \\\\ \\' \\\" \\/ \\b \\f \\n \\r \\t \\uXXXX",
        text,
        index,
    )


def _hex4(text: str, index: int) -> int:
    # ``text[index]`` is the backslash of a \uXXXX escape.
    digits = text[index + 2 : index + 6]
    if len(digits) != 4 or not all(digit in _HEX for digit in digits):
        raise syntax_error("\\u needs exactly four hex digits", text, index)
    return int(digits, 16)
