"""SimConfig: everything the local Polygon server can be told, and its plain-data form.

The plain form (``to_mapping`` / ``from_mapping``) is JSON: the subprocess launcher passes it on
the command line and ``POST /_control/faults`` takes a FaultConfig in it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from standins.polygon.exceptions import SimConfigError

FaultKind = Literal["error", "slow", "malformed", "reset"]
Endpoint = Literal["aggs", "tickers"]
FAULT_KINDS: tuple[FaultKind, ...] = ("error", "slow", "malformed", "reset")
ENDPOINTS: tuple[Endpoint, ...] = ("aggs", "tickers")
DEFAULT_KEY = "headwater-dev-key"
MAX_UNIVERSE = 400_000
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_UNITS |= {"h": 3600.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*(\d+)\s*(?:/\s*([a-z]+?)s?)?\s*$")
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$")


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per API key: ``requests`` per ``per_seconds``, bursts up to ``requests``."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or not self.per_seconds > 0:
            raise SimConfigError(
                "rate_limit", "needs at least 1 request per a positive number of seconds"
            )


@dataclass(frozen=True)
class FaultRule:
    """Fault the first ``count`` requests that match ``endpoint`` and ``ticker`` (None: any)."""

    kind: FaultKind
    count: int
    ticker: str | None = None
    endpoint: Endpoint | None = None
    status: int = 503
    delay_ms: float = 1000.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise SimConfigError("faults.rules.kind", f"{self.kind!r} is not one of {FAULT_KINDS}")
        if self.endpoint is not None and self.endpoint not in ENDPOINTS:
            raise SimConfigError(
                "faults.rules.endpoint", f"{self.endpoint!r} is not one of {ENDPOINTS}"
            )
        if self.count < 0:
            raise SimConfigError("faults.rules.count", "must be 0 or more")
        _check_status("faults.rules.status", self.status)
        _check_delay("faults.rules.delay_ms", self.delay_ms)


@dataclass(frozen=True)
class FaultConfig:
    """Injected failures: random rates (seeded when ``seed`` is set) and exact rules.

    One uniform draw per request picks at most one of reset, error and malformed, so their rates
    add up to at most 1; ``slow`` is drawn separately and adds a delay of ``latency_ms``
    (a fixed value, or a ``(low, high)`` range drawn uniformly) before the answer.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    malformed_rate: float = 0.0
    reset_rate: float = 0.0
    slow_rate: float = 1.0
    latency_ms: tuple[float, float] = (0.0, 0.0)
    seed: int | None = None
    rules: tuple[FaultRule, ...] = ()

    def __post_init__(self) -> None:
        for name in ("error_rate", "malformed_rate", "reset_rate", "slow_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise SimConfigError(f"faults.{name}", f"{rate} is not a probability in [0, 1]")
        if self.error_rate + self.malformed_rate + self.reset_rate > 1.0 + 1e-9:
            raise SimConfigError(
                "faults", "error_rate + malformed_rate + reset_rate must not exceed 1"
            )
        if not self.error_statuses:
            raise SimConfigError("faults.error_statuses", "needs at least one status")
        for status in self.error_statuses:
            _check_status("faults.error_statuses", status)
        low, high = self.latency_ms
        _check_delay("faults.latency_ms", low)
        _check_delay("faults.latency_ms", high)
        if high < low:
            raise SimConfigError("faults.latency_ms", f"the range {low}-{high} is reversed")

    @property
    def active(self) -> bool:
        """Whether any fault can happen at all (the fast path skips the fault logic if not)."""
        return bool(
            self.error_rate
            or self.malformed_rate
            or self.reset_rate
            or (self.slow_rate and self.latency_ms[1] > 0)
            or self.rules
        )

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FaultConfig:
        """Build from the JSON form; unknown keys and wrong types raise SimConfigError."""
        values = dict(_known(data, cls.__dataclass_fields__, "faults"))
        try:
            if "error_statuses" in values:
                values["error_statuses"] = tuple(int(s) for s in values["error_statuses"])
            if "latency_ms" in values:
                values["latency_ms"] = parse_latency(values["latency_ms"])
            if "rules" in values:
                values["rules"] = tuple(
                    FaultRule(**dict(_known(rule, FaultRule.__dataclass_fields__, "faults.rules")))
                    for rule in values["rules"]
                )
            for name in ("error_rate", "malformed_rate", "reset_rate", "slow_rate"):
                if name in values:
                    values[name] = float(values[name])
            if values.get("seed") is not None:
                values["seed"] = int(values["seed"])
            return cls(**values)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SimConfigError):
                raise
            raise SimConfigError("faults", str(exc)) from exc


@dataclass(frozen=True)
class SimConfig:
    """The local Polygon server: where it listens, who may call it, what it serves and breaks."""

    host: str = "127.0.0.1"
    port: int = 8010
    keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limit: RateLimit | None = None
    universe_size: int = 5000
    fractional_volume: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()
    faults: FaultConfig = field(default_factory=FaultConfig)
    control: bool = False
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not self.keys or any(not key for key in self.keys):
            raise SimConfigError("keys", "needs at least one non-empty API key")
        if not 0 <= self.port <= 65_535:
            raise SimConfigError("port", f"{self.port} is not a TCP port")
        if not 1 <= self.universe_size <= MAX_UNIVERSE:
            raise SimConfigError("universe_size", f"must be between 1 and {MAX_UNIVERSE}")
        if self.log_level not in LOG_LEVELS:
            raise SimConfigError("log_level", f"{self.log_level!r} is not one of {LOG_LEVELS}")

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form."""
        data = asdict(self)
        data["fractional_volume"] = sorted(self.fractional_volume)
        data["forbidden"] = sorted(self.forbidden)
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimConfig:
        """Build from the JSON form; unknown keys and wrong types raise SimConfigError."""
        values = dict(_known(data, cls.__dataclass_fields__, "config"))
        try:
            if "keys" in values:
                values["keys"] = tuple(values["keys"])
            if values.get("rate_limit") is not None:
                values["rate_limit"] = RateLimit(**values["rate_limit"])
            for name in ("fractional_volume", "forbidden"):
                if name in values:
                    values[name] = frozenset(values[name])
            if "faults" in values:
                values["faults"] = FaultConfig.from_mapping(values["faults"])
            return cls(**values)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SimConfigError):
                raise
            raise SimConfigError("config", str(exc)) from exc


def parse_rate_limit(text: str) -> RateLimit | None:
    """``"5/min"``, ``"100/s"``, ``"1000/hour"`` or ``"20"`` (per second); ``""``/``"off"``: none."""
    if text.strip().lower() in ("", "off", "none", "0"):
        return None
    match = _RATE.match(text.lower())
    unit = (match.group(2) or "s") if match else None
    if match is None or unit not in _UNITS:
        raise SimConfigError(
            "rate_limit", f"{text!r} is not N/UNIT (units: s, min, hour), e.g. 5/min"
        )
    return RateLimit(int(match.group(1)), _UNITS[unit])


def parse_latency(value: object) -> tuple[float, float]:
    """``200`` or ``"200"`` (fixed), ``"100-500"`` or ``[100, 500]`` (a range) in milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]), float(value[1])
    match = _RANGE.match(value) if isinstance(value, str) else None
    if match is None:
        raise SimConfigError(
            "latency_ms", f"{value!r} is not milliseconds (200) or a range (100-500)"
        )
    low = float(match.group(1))
    return low, float(match.group(2) or low)


def _known(data: object, fields: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SimConfigError(where, f"expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SimConfigError(where, f"unknown keys {unknown}; known keys are {sorted(fields)}")
    return cast("Mapping[str, Any]", data)


def _check_status(where: str, status: int) -> None:
    if not 500 <= status <= 599:
        raise SimConfigError(where, f"{status} is not a 5xx status")


def _check_delay(where: str, delay_ms: float) -> None:
    if not (math.isfinite(delay_ms) and 0 <= delay_ms <= 600_000):
        raise SimConfigError(where, f"{delay_ms} is not a delay between 0 and 600000 ms")
