"""The `headwater` command: output formats, exit codes, files and standard input."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from headwater.cli import main

ROOT = Path(__file__).resolve().parents[2]
POLYGON = ROOT / "uis_compiler" / "examples" / "polygon_stock_daily_bars.yaml"
LINE = re.compile(
    r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning) (?P<code>UIS-[EW]\d{3}) (?P<msg>.+)$"
)

BROKEN = """\
version: "1.2"
name: broken
created_by: me
provider:
  name: p
  display_name: P
  provider_type: rest_api
  base_url: http://api.example.com
  tenant_id: t
  owner: o
  mode: batchy
  sinks: [{type: iceberg, table_name: a.b, config: {}}]
colour: blue
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["uis", "validate", str(POLYGON)], capsys)
    assert code == 0
    assert out == ""
    assert "valid" in err


def test_validate_text_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN)
    code, out, _ = run(["uis", "validate", str(spec)], capsys)
    assert code == 1
    lines = out.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    by_code = {m["code"]: m for m in parsed if m}
    error = by_code["UIS-E022"]
    assert (error["file"], error["line"], error["col"], error["sev"]) == (
        str(spec),
        "11",
        "9",
        "error",
    )
    assert error["msg"].endswith("(did you mean `batch`?)")
    assert by_code["UIS-W020"]["sev"] == "warning"


def test_validate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN)
    code, out, _ = run(["uis", "validate", str(spec), "--format", "json"], capsys)
    assert code == 1
    body = json.loads(out)
    assert body["valid"] is False
    first = body["issues"][0]
    assert set(first) == {"path", "line", "column", "code", "severity", "message", "hint"}
    assert {"path": "provider.mode", "code": "UIS-E022"}.items() <= next(
        i for i in body["issues"] if i["code"] == "UIS-E022"
    ).items()


def test_strict_turns_unknown_keys_into_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "extra.yaml"
    spec.write_text(POLYGON.read_text() + "mode: batch\n")
    assert run(["uis", "validate", str(spec)], capsys)[0] == 0
    code, out, _ = run(["uis", "validate", str(spec), "--strict"], capsys)
    assert code == 1
    assert "error UIS-E026" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["uis", "validate", "/nonexistent/spec.yaml"], capsys)[0] == 2
    with pytest.raises(SystemExit) as info:
        main(["uis", "validate", str(POLYGON), "--format", "xml"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["uis", "compile", str(POLYGON)])
    assert info.value.code == 2


def test_compile_spark_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "plan.json"
    code, out, _ = run(
        ["uis", "compile", str(POLYGON), "--engine", "spark", "-o", str(out_file)], capsys
    )
    assert (code, out) == (0, "")
    body = json.loads(out_file.read_text())
    assert body["plan"]["spec"]["name"] == "polygon_stock_daily_bars"
    assert body["spark_submit"][-2:] == ["--plan", "plan.json"]


def test_compile_for_an_engine_that_cannot_run_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["uis", "compile", str(POLYGON), "--engine", "flink"], capsys)
    assert code == 1
    assert out == ""
    assert "error UIS-E055" in err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["uis", "schema", "--version", "1.1"], capsys)
    assert code == 0
    assert json.loads(out)["title"] == "UIS 1.1"
    code, out, _ = run(["uis", "schema", "--plan"], capsys)
    assert json.loads(out)["title"] == "Headwater Spark plan"


def test_import_openapi_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = {
        "openapi": "3.0.3",
        "info": {"title": "Things", "version": "1"},
        "servers": [{"url": "https://things.example.com"}],
        "paths": {
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {"id": {"type": "string"}},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(api).encode())))
    code, out, _ = run(["uis", "import-openapi", "-", "--tenant", "acme", "--owner", "ops"], capsys)
    assert code == 0
    spec = yaml.safe_load(out)
    assert (spec["provider"]["tenant_id"], spec["provider"]["owner"]) == ("acme", "ops")
    assert spec["provider"]["base_url"] == "https://things.example.com"
    assert [e["path"] for e in spec["provider"]["endpoints"]] == ["/things"]


def test_import_openapi_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "swagger.yaml"
    doc.write_text('swagger: "2.0"\ninfo: {title: old, version: "1"}\npaths: {}\n')
    code, _, err = run(["uis", "import-openapi", str(doc)], capsys)
    assert code == 1
    assert "2.0" in err


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("headwater")
    done = subprocess.run(
        [str(script), "uis", "validate", str(POLYGON), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True
