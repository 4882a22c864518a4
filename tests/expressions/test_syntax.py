"""What compiles, what does not, and how a syntax error points at the spot."""

from __future__ import annotations

import pytest

from digitorn_notify.expressions import (
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING_DEPTH,
    ExpressionError,
    compile_expression,
)

VALID = [
    "result.ok",
    "true",
    "not false",
    "result.a.b.c == 1",
    "result.items[0] == 1",
    "result.items[-1] == 1",
    'result["content-type"] == "text/html"',
    "result['single'] == 'quotes'",
    "result.a[0][1].b == null",
    "result.in == 1 and result.not == 2 and result.null == 3",
    "result . status == 1",
    "result.items [ 0 ] == 1",
    "1 == 1.0",
    "-1 < 0",
    "- 1 < 0",
    "1.5e3 > 1E-3",
    "2e+2 == 200",
    "0 == 0.0",
    "99999999999999999999 > 0",
    "x in [1, 2.5, 'a', null, true, [1]]",
    "x not in []",
    "len(result.items) >= 3",
    'contains(result.tags, "prod")',
    'startswith(lower(result.url), "https://")',
    'endswith(upper(result.name), "X")',
    "abs(result.delta) > 5",
    "a or b and c",
    "not a == b",
    "(a or b) and not (c or d)",
    "result.status_code >= 500 or (result.latency_ms > 800 and result.body.status != 'ok')",
    "\tresult.a\n  and result.b\r\n",
    '"\\u00e9\\n\\t\\"\\\\\\/" == x',
    '"\\ud83d\\ude00" == "😀"',
    "(1) == ((1))",
    "len == 3",  # a root name that happens to spell a function
    "true == (1 < 2)",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_expressions_compile(text: str) -> None:
    assert compile_expression(text).text == text


def _error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "the expression is empty"),
        ("   ", 4, "the expression is empty"),
        ("result.status_code >", 21, "expected a value, found the end of the expression"),
        ("result.x = 1", 10, "compare with '=='"),
        ("a && b", 3, "use 'and'"),
        ("a || b", 3, "use 'or'"),
        ("!a", 1, "use 'not'"),
        ("a < b < c", 7, "comparisons cannot be chained"),
        ("a == b == c", 8, "comparisons cannot be chained"),
        ("(a", 3, "expected a ')' to close the '(' at column 1"),
        ("[1, 2", 6, "expected ',' or ']' to close the '[' at column 1"),
        ("[1, 2,]", 7, "expected a value, found ']'"),
        ("len(1, 2)", 1, "len(value) takes 1 argument, 2 given"),
        ("contains(1)", 1, "contains(container, item) takes 2 arguments, 1 given"),
        ("result.items()", 13, "'result.items' is a path"),
        ("x == None", 6, "write null"),
        ("x == True", 6, "write true"),
        ("x == FALSE", 6, "write false"),
        ("result.0", 8, "index a list with [0]"),
        ("x[1.5]", 3, "expected an integer index or a quoted key"),
        ("x[a]", 3, "expected an integer index or a quoted key"),
        ("x[-'a']", 4, "expected an integer index or a quoted key"),
        ("x[0", 4, "expected a ']' to close the '['"),
        ("x == 007", 6, "leading zeros"),
        ("200ms > 1", 4, "runs straight into a name"),
        ("x == 0x1F", 7, "runs straight into a name"),
        ("x == 1e", 7, "exponent"),
        ("x == 1e1000", 7, "exponent"),
        ("x == 1e999", 6, "out of range"),
        ("x == 123456789012345678901", 6, "the number is too long"),
        ('x == "abc', 6, 'unterminated string: no closing "'),
        ("x == 'abc\\", 10, "ends with a backslash"),
        ('x == "\\q"', 7, "unknown escape"),
        ('x == "\\u12"', 7, "four hex digits"),
        ('x == "\\ud800"', 7, "lone surrogate"),
        ('x == "a\tb"', 8, "control character"),
        ("-x", 2, "'-' must be followed by a number"),
        ("x - 1", 3, "there is no arithmetic"),
        ("a not b", 3, "write 'not in'"),
        ("in", 1, "expected a value, found 'in'"),
        ("x == and", 6, "expected a value, found 'and'"),
        ("1 2", 3, "found the number 2"),
        ("foo(1)", 1, "unknown function 'foo'; the functions are abs(number), contains("),
        ("a.", 3, "expected a key name after '.'"),
        ("x == 1 ,", 8, "found ','"),
        (")", 1, "expected a value, found ')'"),
        ("x $ 1", 3, "unexpected character '$' (U+0024 DOLLAR SIGN)"),
    ],
)
def test_syntax_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    error = _error(text)
    assert error.column == column, str(error)
    assert fragment in str(error)
    assert error.text == text


def test_message_has_a_caret_under_the_column() -> None:
    error = _error("result.status_code >")
    assert str(error) == (
        "column 21: expected a value, found the end of the expression\n"
        "  result.status_code >\n"
        "                      ^"
    )


def test_caret_under_an_operator() -> None:
    lines = str(_error("result.x = 1")).splitlines()
    assert lines[0] == "column 10: '=' is not an operator here; compare with '=='"
    assert lines[1] == "  result.x = 1"
    assert lines[2].index("^") == lines[1].index("=")


def test_caret_on_later_lines_names_the_line() -> None:
    error = _error("result.a > 1\n  and result.b >")
    assert error.column == 30  # just past the end: 12 + 1 newline + 16 characters
    first, excerpt, caret = str(error).splitlines()
    assert first.startswith("column 30 (line 2, character 17): expected a value")
    assert excerpt == "    and result.b >"
    assert caret == "  " + " " * 16 + "^"


def test_caret_accounts_for_wide_and_invisible_characters() -> None:
    # Full-width characters take two terminal cells; a zero-width space is shown as '?'.
    wide = "\uff57\uff49\uff44\uff45"  # "wide" in full-width letters
    error = _error(f'"{wide}" == x ?')
    _, excerpt, caret = str(error).splitlines()
    assert excerpt == f'  "{wide}" == x ?'
    assert caret == "  " + " " * 16 + "^"  # 1 + 4 * 2 + 1 + len(" == x ")
    error = _error("a\u200b == 1")
    _, excerpt, caret = str(error).splitlines()
    assert excerpt == "  a? == 1"
    assert caret == "   ^"


def test_long_lines_are_cut_around_the_column() -> None:
    text = "x == '" + "y" * 300 + "' and"
    error = _error(text)
    _, excerpt, caret = str(error).splitlines()
    assert excerpt.startswith("  …")
    assert len(excerpt) < 90
    assert excerpt[caret.index("^") - 1 : caret.index("^")] == "d"  # caret just past "and"


def test_length_limit() -> None:
    at_limit = "x == '" + "y" * (MAX_EXPRESSION_LENGTH - 7) + "'"
    assert len(at_limit) == MAX_EXPRESSION_LENGTH
    compile_expression(at_limit)
    error = _error(at_limit + " ")
    assert error.column == 0
    assert "1001 characters long; the limit is 1000" in str(error)


@pytest.mark.parametrize(
    ("opening", "closing", "depth"),
    [("(", ")", 1), ("[", "]", 1), ("not ", "", 1), ("len(", ")", 1), ("[(", ")]", 2)],
)
def test_nesting_limit(opening: str, closing: str, depth: int) -> None:
    levels = MAX_NESTING_DEPTH // depth
    compile_expression(opening * levels + "x" + closing * levels)
    error = _error(opening * (levels + 1) + "x" + closing * (levels + 1))
    assert "nests deeper than 32 levels" in str(error)


def test_nesting_counts_across_kinds() -> None:
    text = "not (" * 16 + "x" + ")" * 16
    compile_expression(text)
    error = _error("[" + text + "]")
    assert "nests deeper than 32 levels" in str(error)
    # '[' is level 1, each "not (" two more: the 16th '(' (offset 80) is level 33.
    assert error.column == 81


def test_not_a_string_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="an expression is a string, not int"):
        compile_expression(200)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match="not NoneType"):
        compile_expression(None)  # type: ignore[arg-type]


def test_expression_error_is_a_value_error() -> None:
    assert isinstance(_error("="), ValueError)
