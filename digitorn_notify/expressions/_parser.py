"""A recursive-descent parser from tokens to the syntax tree.

Grammar, loosest binding first (``not`` binds looser than a comparison, as in Python)::

    expression := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand [compare_op operand]        -- never chained: a < b < c is refused
    compare_op := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
    operand    := literal | "-" NUMBER | list | call | path | "(" or_expr ")"
    list       := "[" [or_expr ("," or_expr)*] "]"
    call       := FUNCTION "(" [or_expr ("," or_expr)*] ")"
    path       := NAME ("." NAME | "[" (INT | "-" INT | STRING) "]")*
    literal    := NUMBER | STRING | "null" | "true" | "false"

Parentheses, lists, ``not`` and calls each add one level of nesting, bounded by
:data:`MAX_NESTING_DEPTH`, which also bounds the recursion of the compiler and the
evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NoReturn

from digitorn_notify.expressions._ast import (
    BoolOp,
    Call,
    Compare,
    ListNode,
    Literal,
    Node,
    Not,
    PathNode,
)
from digitorn_notify.expressions._functions import FUNCTIONS, accepted_functions
from digitorn_notify.expressions._lexer import Token, syntax_error, tokenize

__all__ = ["MAX_NESTING_DEPTH", "parse"]

MAX_NESTING_DEPTH: Final = 32

_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "null", "true", "false"})
_CONSTANTS: Final[dict[str, bool | None]] = {"null": None, "true": True, "false": False}
# Spellings from Python, JSON-adjacent languages and SQL; as root names they would
# silently be looked up as paths (and be missing), so they are refused with a hint.
_FOREIGN_CONSTANTS: Final = {
    "None": "null",
    "True": "true",
    "False": "false",
    "NULL": "null",
    "TRUE": "true",
    "FALSE": "false",
    "Null": "null",
}
_COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})


def parse(text: str) -> Node:
    """The syntax tree of ``text``; raises :class:`ExpressionError` with the column."""
    return _Parser(text, tokenize(text)).expression()


class _Parser:
    __slots__ = ("depth", "position", "text", "tokens")

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    # -- token helpers ---------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.position + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def at(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind in ("op", "name") and token.text == text

    def fail(self, message: str, token: Token) -> NoReturn:
        raise syntax_error(message, self.text, token.start)

    def expect(self, text: str, opening: Token, what: str) -> Token:
        if not self.at(text):
            found = self.peek()
            self.fail(
                f"expected {what} '{text}' to close the '{opening.text}' at column "
                f"{opening.start + 1}, found {found.describe()}",
                found,
            )
        return self.advance()

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            self.fail(
                f"the expression nests deeper than {MAX_NESTING_DEPTH} levels"
                " (parentheses, lists, not and calls each count)",
                token,
            )

    # -- grammar ---------------------------------------------------------------------

    def expression(self) -> Node:
        if self.peek().kind == "end":
            self.fail("the expression is empty", self.peek())
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            hint = ""
            if token.text == "not":
                hint = " ('not' goes before a condition, or write 'not in')"
            elif self.at("-"):
                hint = " (there is no arithmetic; '-' only makes negative numbers)"
            self.fail(
                f"expected 'and', 'or' or the end of the expression, found"
                f" {token.describe()}{hint}",
                token,
            )
        return node

    def or_expr(self) -> Node:
        return self.bool_run("or", self.and_expr)

    def and_expr(self) -> Node:
        return self.bool_run("and", self.not_expr)

    def bool_run(self, op: str, parse_operand: Callable[[], Node]) -> Node:
        operands = [parse_operand()]
        while self.at(op):
            self.advance()
            operands.append(parse_operand())
        if len(operands) == 1:
            return operands[0]
        return BoolOp(
            op=op, operands=tuple(operands), start=operands[0].start, end=operands[-1].end
        )

    def not_expr(self) -> Node:
        if not self.at("not"):
            return self.comparison()
        token = self.advance()
        self.enter(token)
        operand = self.not_expr()
        self.depth -= 1
        return Not(operand=operand, start=token.start, end=operand.end)

    def compare_op(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.advance()
            return token.text
        if self.at("in"):
            self.advance()
            return "in"
        if self.at("not") and self.at("in", 1):
            self.position += 2
            return "not in"
        return None

    def comparison(self) -> Node:
        left = self.operand()
        op = self.compare_op()
        if op is None:
            return left
        right = self.operand()
        token = self.peek()
        if self.compare_op() is not None:
            self.fail("comparisons cannot be chained; join them with 'and'", token)
        return Compare(op=op, left=left, right=right, start=left.start, end=right.end)

    def operand(self) -> Node:
        token = self.peek()
        if token.kind in ("number", "string"):
            self.advance()
            return Literal(value=token.value, start=token.start, end=token.end)
        if token.kind == "name":
            return self.named(token)
        if self.at("("):
            self.advance()
            self.enter(token)
            inner = self.or_expr()
            self.expect(")", token, "a")
            self.depth -= 1
            return inner
        if self.at("["):
            self.advance()
            self.enter(token)
            items = self.sequence("]", token)
            self.depth -= 1
            return ListNode(items=items, start=token.start, end=self.tokens[self.position - 1].end)
        if not self.at("-"):
            self.fail(f"expected a value, found {token.describe()}", token)
        return self.negative()

    def negative(self) -> Literal:
        sign = self.advance()
        number = self.peek()
        if number.kind != "number":
            self.fail("'-' must be followed by a number (there is no arithmetic on paths)", number)
        self.advance()
        value = number.value
        assert isinstance(value, int | float)
        return Literal(value=-value, start=sign.start, end=number.end)

    def sequence(self, closing: str, opening: Token) -> tuple[Node, ...]:
        items: list[Node] = []
        if self.at(closing):
            self.advance()
            return ()
        while True:
            items.append(self.or_expr())
            if self.at(","):
                self.advance()
                continue
            if self.at(closing):
                self.advance()
                return tuple(items)
            found = self.peek()
            self.fail(
                f"expected ',' or '{closing}' to close the '{opening.text}' at column "
                f"{opening.start + 1}, found {found.describe()}",
                found,
            )

    def named(self, token: Token) -> Node:
        word = token.text
        if word in _CONSTANTS:
            self.advance()
            return Literal(value=_CONSTANTS[word], start=token.start, end=token.end)
        if word in _FOREIGN_CONSTANTS:
            self.fail(f"'{word}' is not a constant here; write {_FOREIGN_CONSTANTS[word]}", token)
        if word in _KEYWORDS:
            self.fail(f"expected a value, found {token.describe()}", token)
        if self.at("(", 1):
            return self.call(token)
        return self.path(token)

    def call(self, name: Token) -> Call:
        function = FUNCTIONS.get(name.text)
        if function is None:
            self.fail(
                f"unknown function '{name.text}'; the functions are {accepted_functions()}",
                name,
            )
        self.advance()
        opening = self.advance()
        self.enter(opening)
        args = self.sequence(")", opening)
        self.depth -= 1
        if len(args) != function.arity:
            plural = "" if function.arity == 1 else "s"
            self.fail(
                f"{function.signature} takes {function.arity} argument{plural}, {len(args)} given",
                name,
            )
        return Call(
            name=name.text, args=args, start=name.start, end=self.tokens[self.position - 1].end
        )

    def path(self, root: Token) -> PathNode:
        self.advance()
        steps: list[str | int] = [root.text]
        while True:
            if self.at("."):
                self.advance()
                key = self.peek()
                if key.kind != "name":
                    hint = "; index a list with [0]" if key.kind == "number" else ""
                    self.fail(f"expected a key name after '.', found {key.describe()}{hint}", key)
                steps.append(self.advance().text)
            elif self.at("["):
                steps.append(self.subscript())
            else:
                break
        end = self.tokens[self.position - 1].end
        if self.at("("):
            self.fail(
                f"only the built-in functions can be called ({accepted_functions()});"
                f" '{self.text[root.start : end]}' is a path",
                self.peek(),
            )
        return PathNode(steps=tuple(steps), start=root.start, end=end)

    def subscript(self) -> str | int:
        opening = self.advance()
        token = self.peek()
        negative = token.kind == "op" and token.text == "-"
        if negative:
            self.advance()
            token = self.peek()
        if token.kind == "string" and not negative:
            step: str | int = str(token.value)
        elif token.kind == "number" and type(token.value) is int:
            step = -token.value if negative else token.value
        else:
            self.fail(
                f"expected an integer index or a quoted key inside [ ], found {token.describe()}",
                token,
            )
        self.advance()
        self.expect("]", opening, "a")
        return step
