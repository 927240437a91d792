"""SeaTunnel file sources for UIS endpoints: S3File and FtpFile, JSON, Parquet or ORC files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import SplitResult, urlsplit

from uis_compiler.compilers.hocon import Comment, Entry, Name, Value
from uis_compiler.compilers.seatunnel_context import (
    Context,
    Shape,
    endpoint_path,
    needs_shape,
    schema,
)
from uis_compiler.models import Endpoint
from uis_compiler.types import Path

FILE_FORMATS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".orc": "orc"}
_SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
_INSTANCE_CREDENTIALS = "com.amazonaws.auth.InstanceProfileCredentialsProvider"


def _file_format(
    ctx: Context, path: Path, endpoint: Endpoint, shape: Shape | None
) -> list[Entry | Comment]:
    suffix = PurePosixPath(endpoint.path).suffix.lower()
    found = FILE_FORMATS.get(suffix)
    if found is None:
        ctx.unsupported(
            (*path, "path"),
            f"the file format of `{endpoint.path}` is unknown: Headwater reads .json, .jsonl, "
            ".parquet and .orc files with SeaTunnel",
            "end the path with the file extension",
        )
        return []
    entries: list[Entry | Comment] = [("file_format_type", found)]
    if found == "json":
        if shape is None:
            needs_shape(ctx, path, endpoint, "a JSON file")
        else:
            entries.append(("schema", schema(shape)))
    return entries


def s3_source(
    ctx: Context, index: int, endpoint: Endpoint, shape: Shape | None, fan_out: Mapping[str, str]
) -> list[Entry | Comment]:
    path = endpoint_path(index)
    provider = ctx.spec.provider
    split = urlsplit(provider.base_url or "")
    prefix = split.path.strip("/")
    if split.scheme in ("s3", "s3a", "s3n") and split.netloc:
        bucket, endpoint_url = split.netloc, "s3.amazonaws.com"
    elif split.scheme in ("http", "https") and prefix:
        # An S3-compatible store addressed path-style: the first path segment is the bucket.
        bucket, _, prefix = prefix.partition("/")
        endpoint_url = f"{split.scheme}://{split.netloc}"
    else:
        ctx.unsupported(
            ("provider", "base_url") if provider.base_url else ("provider",),
            f"`{provider.base_url}` names no S3 bucket",
            "write `s3://BUCKET` or, for an S3-compatible store, `https://HOST/BUCKET`",
        )
        bucket, endpoint_url = "", ""
    key = "/".join(part for part in (prefix, endpoint.path.strip("/")) if part)
    entries: list[Entry | Comment] = [
        ("path", ctx.text(f"/{key}", fan_out, (*path, "path"))),
        ("bucket", f"s3a://{bucket}"),
        ("fs.s3a.endpoint", endpoint_url),
    ]
    entries += s3_credentials(ctx, "credentials", provider.credentials_ref is not None, path)
    if split.scheme in ("http", "https"):
        # The bucket came from the URL path, so requests must address it the same way.
        style: dict[str, Value] = {Name("fs.s3a.path.style.access"): "true"}
        entries.append(("hadoop_s3_properties", style))
    return entries + _file_format(ctx, path, endpoint, shape)


def s3_credentials(
    ctx: Context, prefix: str, has_secret: bool, path: Path
) -> list[Entry | Comment]:
    """S3 credentials: keys from a secret as job variables, else the machine's instance profile."""
    if not has_secret:
        return [("fs.s3a.aws.credentials.provider", _INSTANCE_CREDENTIALS)]
    return [
        ("fs.s3a.aws.credentials.provider", _SIMPLE_CREDENTIALS),
        ("access_key", ctx.variable(f"{prefix}_access_key", path)),
        ("secret_key", ctx.variable(f"{prefix}_secret_key", path)),
    ]


def ftp_source(
    ctx: Context, index: int, endpoint: Endpoint, shape: Shape | None, fan_out: Mapping[str, str]
) -> list[Entry | Comment]:
    path = endpoint_path(index)
    provider = ctx.spec.provider
    split = urlsplit(provider.base_url or "")
    port = _port(split)
    if split.scheme != "ftp" or not split.hostname or port is None:
        ctx.unsupported(
            ("provider", "base_url") if provider.base_url else ("provider",),
            f"`{provider.base_url}` is not an ftp:// URL",
            "write `ftp://HOST:PORT`",
        )
    if provider.credentials_ref is None:
        ctx.unsupported(
            ("provider",),
            "SeaTunnel's FtpFile source needs a user and a password",
            "set provider.credentials_ref to a secret with `username` and `password`",
        )
    where = ("provider", "credentials_ref")
    key = "/".join(part for part in (split.path.strip("/"), endpoint.path.strip("/")) if part)
    entries: list[Entry | Comment] = [
        ("host", split.hostname or ""),
        ("port", port or 21),
        ("user", ctx.variable("credentials_username", where)),
        ("password", ctx.variable("credentials_password", where)),
        ("path", ctx.text(f"/{key}", fan_out, (*path, "path"))),
    ]
    return entries + _file_format(ctx, path, endpoint, shape)


def _port(split: SplitResult) -> int | None:
    """The URL's port, 0 when it names none, None when it is not a number."""
    try:
        return split.port or 0
    except ValueError:
        return None
