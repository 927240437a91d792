"""Golden files: every example compiled for every engine, byte for byte (errors included).

Regenerate after an intended change with `HEADWATER_UPDATE_GOLDEN=1 make test`, then review the
diff like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from uis_docs import EXAMPLES

from uis_compiler import ENGINES, validate
from uis_compiler.compiler import compile_result
from uis_compiler.exceptions import CompileError
from uis_compiler.types import Engine

GOLDEN = Path(__file__).resolve().parent / "golden"
EXTENSIONS = {"spark": "json", "flink": "sql", "seatunnel": "conf"}
UPDATE = os.environ.get("HEADWATER_UPDATE_GOLDEN") == "1"


def _render(path: Path, engine: Engine) -> tuple[str, str]:
    result = validate(path.read_text(), engine=engine)
    try:
        return EXTENSIONS[engine], compile_result(result, engine)
    except CompileError as exc:
        lines = [f"{i.line}:{i.column}: {i.code} {i.path}: {i.message}" for i in exc.issues]
        return "errors.txt", "\n".join(lines) + "\n"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden(example: Path, engine: Engine) -> None:
    extension, text = _render(example, engine)
    golden = GOLDEN / f"{example.stem}.{engine}.{extension}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for stale in GOLDEN.glob(f"{example.stem}.{engine}.*"):
            stale.unlink()
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}: run with HEADWATER_UPDATE_GOLDEN=1"
    assert text == golden.read_text()
