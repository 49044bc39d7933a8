"""The SCIM filter and PATCH path grammar (RFC 7644 §3.4.2.2 and §3.5.2), parsed here.

Our own small recursive-descent parser, because the one scim2-filter-parser ships gets three
things wrong that clients rely on: it binds `or` as tightly as `and` (so `a or b and c` meant
`(a or b) and c`), it cannot read a `\\"` inside a string, and it keeps `\\\\` as two
backslashes. Here precedence is `not` > `and` > `or`, parentheses group, and a comparison value
is a JSON value (strings with JSON escapes, numbers, true, false, null), as the RFC says.

The result is a small tree; scim.filters turns it into ORM `Q` objects, and `matches()` tests
it against one item of a multi-valued attribute (PATCH value paths)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from scim.exceptions import InvalidFilter

COMPARE_OPS = {"eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"}
MAX_DEPTH = 50

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
  | (?P<punct>[()\[\]])
  | (?P<dotword>\.[A-Za-z_$][\w$-]*)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![\w:.$-]))
  | (?P<word>[A-Za-z_$][\w:.$-]*(?:\.[\w$-]+)*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class AttrPath:
    """[uri:]attr[.sub]; `uri` None means the resource's core schema."""

    uri: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        text = self.attr + (f".{self.sub}" if self.sub else "")
        return f"{self.uri}:{text}" if self.uri else text


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str  # one of COMPARE_OPS, or "pr"
    value: Any = None


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class ValuePath:
    """attr[filter]: some item of a multi-valued attribute matches `filter` (whose paths are
    the item's sub-attributes)."""

    path: AttrPath
    filter: Node


Node = Compare | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH path: `attr`, `attr.sub`, `urn:attr`, `attr[filter]` or `attr[filter].sub`."""

    path: AttrPath
    filter: Node | None = None
    sub: str | None = None


def split_path(word: str) -> AttrPath:
    """A word as an attribute path; a URN prefix ends at its last ':'."""
    uri = None
    rest = word
    if word.lower().startswith("urn:"):
        uri, _, rest = word.rpartition(":")
        if not rest:
            raise InvalidFilter(f"{word!r} names a schema but no attribute.")
    attr, _, sub = rest.partition(".")
    if not attr or "." in sub or not re.fullmatch(r"[A-Za-z_$][\w$-]*", attr):
        raise InvalidFilter(f"{word!r} is not an attribute path (e.g. name.givenName).")
    if sub and not re.fullmatch(r"[A-Za-z_$][\w$-]*", sub):
        raise InvalidFilter(f"{word!r} is not an attribute path (e.g. name.givenName).")
    return AttrPath(uri, attr, sub or None)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise InvalidFilter(
                    f"Unexpected {text[pos : pos + 20]!r} at position {pos + 1} of the filter "
                    '(strings go in double quotes: userName eq "ada@example.com").'
                )
            kind = match.lastgroup or ""
            if kind != "space":
                out.append((kind, match.group()))
            pos = match.end()
        return out

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self.pos += 1
            return token[1].lower()
        return None

    def expect(self, punct: str) -> None:
        token = self.peek()
        if token != ("punct", punct):
            shown = token[1] if token else "the end"
            raise InvalidFilter(f"Expected {punct!r} but found {shown!r} in the filter.")
        self.pos += 1

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise InvalidFilter(f"Unexpected {token[1]!r} in the filter.")

    # FILTER = or-expression
    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.keyword("or"):
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_unary()
        while self.keyword("and"):
            node = And(node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidFilter(f"The filter nests deeper than {MAX_DEPTH} levels.")
        try:
            if self.keyword("not"):
                self.expect("(")
                inner = self.parse_or()
                self.expect(")")
                return Not(inner)
            if self.peek() == ("punct", "("):
                self.pos += 1
                inner = self.parse_or()
                self.expect(")")
                return inner
            return self.parse_attr_expr()
        finally:
            self.depth -= 1

    def parse_attr_expr(self) -> Node:
        token = self.peek()
        if token is None or token[0] != "word":
            shown = token[1] if token else "the end of the filter"
            raise InvalidFilter(f"Expected an attribute name but found {shown!r}.")
        self.pos += 1
        path = split_path(token[1])
        if self.peek() == ("punct", "["):
            self.pos += 1
            inner = self.parse_or()
            self.expect("]")
            token = self.peek()
            if token is None or token[0] != "dotword":
                return ValuePath(path, inner)
            # emails[type eq "work"].value eq "x": the same item matches both.
            self.pos += 1
            item_path = AttrPath(None, token[1][1:])
            op = self.keyword("pr", *COMPARE_OPS)
            if op is None:
                raise InvalidFilter(f"Expected an operator after {token[1]!r}.")
            compare = Compare(item_path, op, None if op == "pr" else self.parse_value())
            return ValuePath(path, And(inner, compare))
        op = self.keyword("pr", *COMPARE_OPS)
        if op is None:
            token = self.peek()
            shown = token[1] if token else "the end of the filter"
            raise InvalidFilter(
                f"Expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after "
                f"{str(path)!r} but found {shown!r}."
            )
        if op == "pr":
            return Compare(path, "pr")
        return Compare(path, op, self.parse_value())

    def parse_value(self) -> Any:
        token = self.peek()
        if token is None:
            raise InvalidFilter("The filter ends where a value was expected.")
        kind, text = token
        self.pos += 1
        if kind == "string":
            return json.loads(text)  # JSON escapes: \" \\ \/ \n \u00e9 …
        if kind == "number":
            return json.loads(text)
        if kind == "word" and text.lower() in {"true", "false", "null"}:
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise InvalidFilter(
            f"{text!r} is not a value: use a string in double quotes, a number, true, false "
            "or null."
        )


def parse_filter(text: str) -> Node:
    parser = _Parser(text)
    if not parser.tokens:
        raise InvalidFilter("The filter is empty.")
    node = parser.parse_or()
    parser.done()
    return node


def parse_patch_path(text: str) -> PatchPath:
    """A PATCH operation's path (RFC 7644 §3.5.2: attrPath / valuePath ["." subAttr])."""
    match = re.fullmatch(r"\s*([^\[\]\s]+)\s*(?:\[(.*)\](?:\.([A-Za-z_$][\w$-]*))?)?\s*", text)
    if match is None:
        raise InvalidFilter(f'{text!r} is not a PATCH path (e.g. emails[type eq "work"].value).')
    path = split_path(match[1])
    if match[2] is None:
        return PatchPath(path)
    if path.sub:
        raise InvalidFilter(f"{text!r}: a value filter follows an attribute, not a sub-attribute.")
    return PatchPath(path, parse_filter(match[2]), match[3])


def _item_value(item: dict[str, Any], name: str) -> Any:
    for key, value in item.items():
        if key.lower() == name.lower():
            return value
    return None


def matches(node: Node, item: Any) -> bool:
    """Whether one item of a multi-valued attribute (a dict, or a plain value standing for
    {"value": …}) matches a value filter whose paths name its sub-attributes."""
    if not isinstance(item, dict):
        item = {"value": item}
    if isinstance(node, And):
        return matches(node.left, item) and matches(node.right, item)
    if isinstance(node, Or):
        return matches(node.left, item) or matches(node.right, item)
    if isinstance(node, Not):
        return not matches(node.inner, item)
    if isinstance(node, ValuePath):
        raise InvalidFilter("A value filter cannot nest another value filter.")
    name = node.path.attr if node.path.sub is None else f"{node.path.attr}.{node.path.sub}"
    have = _item_value(item, name)
    if node.op == "pr":
        return have not in (None, "", [], {})
    want = node.value
    if isinstance(have, str) and isinstance(want, str):
        have, want = have.lower(), want.lower()  # sub-attributes compare case-insensitively
    elif isinstance(want, bool) and isinstance(have, str):
        have = have.strip().lower() == "true"
    try:
        return {
            "eq": lambda: have == want,
            "ne": lambda: have != want,
            "co": lambda: isinstance(have, str) and want in have,
            "sw": lambda: isinstance(have, str) and have.startswith(want),
            "ew": lambda: isinstance(have, str) and have.endswith(want),
            "gt": lambda: have is not None and have > want,
            "ge": lambda: have is not None and have >= want,
            "lt": lambda: have is not None and have < want,
            "le": lambda: have is not None and have <= want,
        }[node.op]()
    except TypeError:
        return False
