"""No secret in a repr, a traceback or a log line: the platform's settings and configs hold their
secrets as SecretStr, and the job's redactor masks a key however a source echoes it back."""

from __future__ import annotations

import json
import traceback
import uuid
from urllib.parse import quote, quote_plus

import pytest
from attacks import CANARY, attempt
from paged_api import RunningApi, Scripted, compile_plan, spec_text
from pyspark.sql import SparkSession

from headwater.settings import Settings

#: A key that changes when URL-encoded or JSON-escaped.
ODD_KEY = f'k/{uuid.uuid4().hex[:12]}"+&= {{x}}'


def _configs_fail(settings: Settings) -> None:
    data_plane = settings.data_plane_config()  # noqa: F841 - read by the traceback's locals
    job = settings.job_config()  # noqa: F841
    api = settings.api_config()  # noqa: F841
    raise RuntimeError("a failure while every config is in scope")


def test_settings_and_configs_never_show_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("S3_SECRET_KEY", "VAULT_TOKEN", "DATAHUB_TOKEN"):
        monkeypatch.setenv(f"HEADWATER_{name}", CANARY)
    monkeypatch.setenv("HEADWATER_VAULT_ADDR", "http://127.0.0.1:8200")
    monkeypatch.setenv("HEADWATER_DATAHUB_GMS_URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("HEADWATER_DATABASE_URL", f"postgres://hw:{CANARY}@127.0.0.1:5432/hw")
    settings = Settings()
    # The values are there, for the code that needs them…
    assert settings.s3_secret_key.get_secret_value() == CANARY
    job = settings.job_config()
    assert job.vault is not None and job.vault.token.get_secret_value() == CANARY
    # …and in no text made of the objects that hold them.
    texts = [repr(settings), str(settings), repr(settings.data_plane_config()), repr(job)]
    texts.append(repr(settings.api_config()))
    try:
        _configs_fail(settings)
    except RuntimeError as exc:
        found = traceback.TracebackException.from_exception(exc, capture_locals=True)
        texts.append("".join(found.format()))
    assert "data_plane" in texts[-1]  # the locals were formatted
    assert [text[:200] for text in texts if CANARY in text] == []


def test_a_key_echoed_encoded_or_escaped_is_masked(
    spark: SparkSession, source: RunningApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_SECRET_ODD_KEY", ODD_KEY)
    # Like a source that quotes the request it refused: in JSON, and as a URL.
    echoed = {"error": f"bad key {ODD_KEY}", "request": f"/items?apiKey={quote(ODD_KEY)}",
              "form": f"apiKey={quote_plus(ODD_KEY)}"}  # fmt: skip
    source.api.script("echo", *[Scripted(403, body=json.dumps(echoed).encode())] * 2)
    endpoint = {"name": "items", "path": "/script/echo", "response_path": "$.data",
                "field_mapping": {"id": "id"}, "auth": "bearer"}  # fmt: skip
    text = spec_text(source.base_url, endpoint, {"credentials_ref": "env:HEADWATER_SECRET_ODD_KEY"})
    outcome = attempt(spark, compile_plan(text))
    assert type(outcome.error).__name__ == "HttpTerminalError", outcome.log
    assert "HTTP 403" in str(outcome.error) and "bad key ***" in str(outcome.error)
    assert source.api.seen[0].headers["authorization"] == f"Bearer {ODD_KEY}"
    forms = {ODD_KEY, quote(ODD_KEY, safe=""), quote(ODD_KEY), quote_plus(ODD_KEY),
             json.dumps(ODD_KEY)[1:-1]}  # fmt: skip
    for form in forms:
        assert outcome.leaked(form) == [], form
