"""Plan a Flink SQL script with the real Flink planner, without running it or any service.

Run by the PyFlink venv that ``deploy/local/pyflink.sh`` sets up (not Headwater's own venv):

    ~/.cache/headwater/pyflink/venv/bin/python deploy/local/flink_explain.py job.sql \\
        [--jars DIR] [--warehouse DIR]

SET statements become configuration (``execution.runtime-mode`` picks the environment, since
Flink cannot switch it later); CREATE and other DDL statements are executed; every INSERT, the
ones inside ``EXECUTE STATEMENT SET BEGIN … END;`` included, is explained together as one
statement set, which makes the planner validate every connector's options and build each
source and sink. Kafka and JDBC tables are only planned, so no broker or database is needed.
``--warehouse DIR`` plans every Iceberg catalog as a Hadoop catalog in DIR instead of the one
written in the script (the platform's JDBC catalog would need its database).

Prints the plan and exits 0; exits 1 with the planner's message when a statement fails, and 2
on a usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_JARS = (
    Path(os.environ.get("HEADWATER_CACHE", Path.home() / ".cache/headwater")) / "pyflink/jars"
)

_SET = re.compile(r"^SET\s+'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'$", re.IGNORECASE | re.DOTALL)
_BLOCK_START = re.compile(r"^EXECUTE\s+STATEMENT\s+SET\s+BEGIN\b", re.IGNORECASE)
_CATALOG = re.compile(r"^(CREATE\s+CATALOG\s+.+?)\s+WITH\s*\(", re.IGNORECASE | re.DOTALL)
_OPTION = re.compile(r"'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'")
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)


@dataclass(frozen=True)
class Statement:
    """One statement of the script, without its `;`, and the line it starts on."""

    text: str
    line: int


class PlanError(Exception):
    """A statement the planner refused; the message says which and why."""


def split_statements(script: str) -> list[Statement]:
    """Split at `;` outside string literals, quoted identifiers and comments."""
    # The scan mirrors uis_compiler.compilers.flink_sql's; this script runs in the PyFlink venv,
    # where Headwater's packages (and their dependencies) are not installed.
    statements: list[Statement] = []
    start = 0
    at = 0
    size = len(script)
    while at < size:
        char = script[at]
        if char in "'`\"":
            close = script.find(char, at + 1)
            # A doubled quote is an escaped one inside the same literal.
            while close != -1 and close + 1 < size and script[close + 1] == char:
                close = script.find(char, close + 2)
            at = size if close == -1 else close + 1
        elif script.startswith("--", at):
            newline = script.find("\n", at)
            at = size if newline == -1 else newline + 1
        elif script.startswith("/*", at):
            close = script.find("*/", at + 2)
            at = size if close == -1 else close + 2
        elif char == ";":
            _append(statements, script, start, at)
            start = at = at + 1
        else:
            at += 1
    _append(statements, script, start, size)
    return statements


def _append(statements: list[Statement], script: str, start: int, end: int) -> None:
    piece = script[start:end]
    lead = _LEADING_COMMENTS.match(piece)
    skipped = lead.end() if lead else 0
    text = piece[skipped:].strip()
    if text:
        line = script.count("\n", 0, start + skipped) + 1
        statements.append(Statement(text, line))


def runtime_mode(statements: list[Statement]) -> str:
    mode = "streaming"
    for statement in statements:
        match = _SET.match(statement.text)
        if match and match.group(1).lower() == "execution.runtime-mode":
            mode = match.group(2).replace("''", "'").lower()
    return mode


def hadoop_catalog(statement: Statement, warehouse: Path) -> Statement:
    """An Iceberg ``CREATE CATALOG`` turned into a Hadoop catalog in ``warehouse``."""
    head = _CATALOG.match(statement.text)
    if head is None:
        return statement
    options = {k.lower(): v for k, v in _OPTION.findall(statement.text[head.end() :])}
    if options.get("type") != "iceberg":
        return statement
    text = (
        f"{head.group(1)} WITH ('type' = 'iceberg', 'catalog-type' = 'hadoop', "
        f"'warehouse' = '{warehouse.resolve().as_uri()}')"
    )
    return Statement(text, statement.line)


def java_message(error: BaseException) -> str:
    """The exception chain of a Java error, without stack frames."""
    lines = []
    for line in str(error).splitlines():
        stripped = line.strip()
        # py4j's own frame ("An error occurred while calling o8.executeSql.") says nothing.
        if not stripped or stripped.startswith(("at ", "... ", "An error occurred while calling")):
            continue
        lines.append(stripped.removeprefix(": "))
    return "\n".join(lines) or repr(error)


def plan(statements: list[Statement], jars: list[Path]) -> str:
    """Run the DDL, then explain all INSERTs as one statement set."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    mode = runtime_mode(statements)
    settings = (
        EnvironmentSettings.in_batch_mode()
        if mode == "batch"
        else EnvironmentSettings.in_streaming_mode()
    )
    env = TableEnvironment.create(settings)
    config = env.get_config()
    if jars:
        config.set("pipeline.jars", ";".join(jar.resolve().as_uri() for jar in jars))
    inserts: list[Statement] = []
    in_block = False
    for statement in statements:
        text = statement.text
        block = _BLOCK_START.match(text)
        if block:
            in_block = True
            text = text[block.end() :].strip()
            if not text:
                continue
            statement = Statement(text, statement.line)
        if in_block and text.upper() == "END":
            in_block = False
            continue
        if text.upper().startswith("INSERT"):
            inserts.append(statement)
            continue
        if in_block:
            raise PlanError(
                f"line {statement.line}: only INSERT statements belong in a statement set"
            )
        _execute(env, config, statement)
    if in_block:
        raise PlanError("EXECUTE STATEMENT SET BEGIN has no matching END")
    if not inserts:
        raise PlanError("the script has no INSERT statement to plan")
    statement_set = env.create_statement_set()
    for insert in inserts:
        try:
            statement_set.add_insert_sql(insert.text)
        except Exception as error:
            raise PlanError(f"line {insert.line}: {java_message(error)}") from error
    try:
        return str(statement_set.explain())
    except Exception as error:
        raise PlanError(f"planning the INSERT statements failed: {java_message(error)}") from error


def _execute(env: Any, config: Any, statement: Statement) -> None:
    setting = _SET.match(statement.text)
    try:
        if setting:
            # TableEnvironment.execute_sql does not take SET; the SQL client would.
            config.set(setting.group(1).replace("''", "'"), setting.group(2).replace("''", "'"))
        else:
            env.execute_sql(statement.text)
    except Exception as error:
        raise PlanError(f"line {statement.line}: {java_message(error)}") from error


def _hadoop_classpath(jars_dir: Path) -> None:
    """Hadoop must be on the JVM's system classpath, which only the environment can extend."""
    hadoop = sorted(str(jar.resolve()) for jar in (jars_dir / "hadoop").glob("*.jar"))
    existing = os.environ.get("HADOOP_CLASSPATH")
    if hadoop:
        os.environ["HADOOP_CLASSPATH"] = ":".join([*hadoop, *([existing] if existing else [])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sql_file", type=Path, help="the Flink SQL script")
    parser.add_argument(
        "--jars",
        type=Path,
        default=DEFAULT_JARS,
        help="connector jars (*.jar) with Hadoop's in hadoop/ (default: %(default)s)",
    )
    parser.add_argument(
        "--warehouse", type=Path, help="plan Iceberg catalogs as Hadoop catalogs in this folder"
    )
    args = parser.parse_args(argv)
    if not args.jars.is_dir():
        print(
            f"flink_explain: no jar folder {args.jars}; run `bash deploy/local/pyflink.sh`",
            file=sys.stderr,
        )
        return 2
    try:
        script = args.sql_file.read_text(encoding="utf-8")
    except OSError as error:
        print(f"flink_explain: cannot read {args.sql_file}: {error}", file=sys.stderr)
        return 2
    statements = split_statements(script)
    if args.warehouse is not None:
        args.warehouse.mkdir(parents=True, exist_ok=True)
        statements = [hadoop_catalog(s, args.warehouse) for s in statements]
    _hadoop_classpath(args.jars)
    try:
        print(plan(statements, sorted(args.jars.glob("*.jar"))))
    except PlanError as error:
        print(f"flink_explain: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
