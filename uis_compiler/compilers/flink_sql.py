"""Flink SQL text: quoting, literals, WITH clauses, table DDL and JSON extraction expressions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from uis_compiler.columns import ColumnType
from uis_compiler.jsonpath import Step

FLINK_TYPES: dict[ColumnType, str] = {
    "string": "STRING",
    "long": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP(3)",
}

#: ISO-8601 text as JSON carries it; Flink 2.0's CAST only reads the `yyyy-MM-dd HH:mm:ss` form.
_ISO_TIMESTAMP = "yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a Flink table or view."""

    name: str
    type: ColumnType = "string"

    @property
    def sql(self) -> str:
        return f"{ident(self.name)} {FLINK_TYPES[self.type]}"


def ident(name: str) -> str:
    """A backtick-quoted identifier (backticks inside doubled), safe for any name."""
    return "`" + name.replace("`", "``") + "`"


def qualified(*parts: str) -> str:
    return ".".join(ident(part) for part in parts)


def literal(text: str) -> str:
    """A SQL string literal; Flink literals have no backslash escapes, only doubled quotes."""
    return "'" + text.replace("'", "''") + "'"


def comment(text: str) -> str:
    """A `--` comment line; line breaks in user text would end the comment and inject SQL."""
    return "-- " + _CONTROL.sub(" ", text).rstrip()


def option_text(value: object) -> str:
    """A config value as a WITH option's text (YAML booleans as Flink spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def with_clause(options: Iterable[tuple[str, str]]) -> str:
    body = ",\n".join(f"  {literal(key)} = {literal(value)}" for key, value in options)
    return f"WITH (\n{body}\n)"


def create_table(
    name: str,
    columns: Sequence[Column],
    options: Iterable[tuple[str, str]],
    *,
    temporary: bool = True,
    primary_key: Sequence[str] = (),
    partitioned_by: Sequence[str] = (),
) -> str:
    """``CREATE [TEMPORARY] TABLE``; non-temporary tables (in a catalog) get IF NOT EXISTS."""
    lines = [f"  {column.sql}" for column in columns]
    if primary_key:
        lines.append(f"  PRIMARY KEY ({', '.join(ident(c) for c in primary_key)}) NOT ENFORCED")
    head = "CREATE TEMPORARY TABLE" if temporary else "CREATE TABLE IF NOT EXISTS"
    text = f"{head} {name} (\n" + ",\n".join(lines) + "\n)"
    if partitioned_by:
        text += f" PARTITIONED BY ({', '.join(ident(c) for c in partitioned_by)})"
    return f"{text} {with_clause(options)};"


def select_list(expressions: Sequence[tuple[str, str]]) -> str:
    """``expr AS `name``` items, one per line."""
    return ",\n".join(f"  {expr} AS {ident(name)}" for expr, name in expressions)


def json_path(steps: Sequence[Step]) -> str:
    """Steps as a JSON path Flink's JSON_VALUE reads: `$.a['b c'][0]`."""
    out = "$"
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif step is not None and _PLAIN_KEY.match(step):
            out += f".{step}"
        else:
            key = str(step).replace("\\", "\\\\").replace("'", "\\'")
            out += f"['{key}']"
    return out


def typed(text_expr: str, kind: ColumnType) -> str:
    """A STRING expression converted to ``kind``; values that do not convert become NULL.

    JSON_VALUE's RETURNING clause is no help on Flink 2.0: BIGINT fails code generation and
    DOUBLE/BOOLEAN fail at run time, so the text is cast instead.
    """
    if kind == "string":
        return text_expr
    if kind == "timestamp":
        return (
            f"COALESCE(TRY_CAST({text_expr} AS TIMESTAMP(3)), "
            f"TO_TIMESTAMP({text_expr}, {literal(_ISO_TIMESTAMP)}))"
        )
    return f"TRY_CAST({text_expr} AS {FLINK_TYPES[kind]})"


def json_value(column: str, steps: Sequence[Step], kind: ColumnType) -> str:
    return typed(f"JSON_VALUE({ident(column)}, {literal(json_path(steps))})", kind)


def query_body(query: str) -> tuple[str, bool]:
    """A user query without trailing semicolons, and whether it holds only one statement.

    Quotes and comments are respected, so a `;` inside a string literal is no separator. When
    the query ends inside a `--` comment, a line break keeps our terminating `;` out of it.
    """
    text = query.strip()
    ends = _statement_ends(text)
    while ends and ends[-1][0] == len(text) - 1:
        text = text[: ends[-1][0]].rstrip()
        ends = _statement_ends(text)
    single = not ends
    if _ends_in_line_comment(text):
        text += "\n"
    return text, single


def _statement_ends(text: str) -> list[tuple[int, str]]:
    return [(at, kind) for at, kind in _scan(text) if kind == ";"]


def _ends_in_line_comment(text: str) -> bool:
    marks = _scan(text)
    return bool(marks) and marks[-1][1] == "--open"


def _scan(text: str) -> list[tuple[int, str]]:
    """Positions of `;` outside quotes and comments; a final ``--open`` if a line comment is open."""
    marks: list[tuple[int, str]] = []
    at = 0
    size = len(text)
    while at < size:
        char = text[at]
        if char in "'`\"":
            close = text.find(char, at + 1)
            # A doubled quote is an escaped one; keep scanning past it.
            while close != -1 and close + 1 < size and text[close + 1] == char:
                close = text.find(char, close + 2)
            at = size if close == -1 else close + 1
            continue
        if text.startswith("--", at):
            newline = text.find("\n", at)
            if newline == -1:
                marks.append((at, "--open"))
                return marks
            at = newline + 1
            continue
        if text.startswith("/*", at):
            close = text.find("*/", at + 2)
            at = size if close == -1 else close + 2
            continue
        if char == ";":
            marks.append((at, ";"))
        at += 1
    return marks
