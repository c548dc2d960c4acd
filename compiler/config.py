"""The training configuration (`train.toml`): parsing and validation.

Every key has a default (DESIGN.md); an unknown section or key, or a value of the wrong kind,
raises `ConfigError` naming the key, never silently ignored.
"""

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A bad training configuration; the message names the key."""


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "cross_entropy"
    reconstruction: str = "bce"
    kl_weight: float = 1.0
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    batch_size: int = 1
    trainable: tuple[str, ...] = ("*",)
    mode: str = "full"
    last_k: int = 1
    bias_k: int = 0
    sparse_weights: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuantizeConfig:
    scheme: str = "none"
    errors: str = "int8"
    weights: str = "per-tensor"
    normalize: str = "none"
    rounding: str = "stochastic"
    seed: int = 0
    alpha_w: float = 0.1
    alpha_a: float = 0.1
    alpha_e: float = 1.0
    update: str = "auto"
    headroom: float = 0.0


def resolved_update(q: QuantizeConfig) -> str:
    """`quantize.update = "auto"`: the fused row-by-row update wherever it applies (integer
    errors, plain SGD), else every weight requantized each step."""
    if q.update != "auto":
        return q.update
    return "fused" if q.errors in ("int8", "int16") and q.normalize == "none" else "requantize"


@dataclass(frozen=True)
class PartialUpdateConfig:
    lambda_min: float = 1.0
    lambda_max: float = 1.0


@dataclass(frozen=True)
class MemoryConfig:
    budget_bytes: int = 0
    stream_accumulator_bytes: int = 0
    """Quantized builds: compute int32 accumulators of at least this many bytes one channel
    at a time, twice (their range, then their 8-bit result), instead of storing them —
    those that lower the step's peak (qtrain-stream-accumulators); 0 = off."""
    stream_all: bool = False
    """With stream_accumulator_bytes: stream every eligible accumulator, fuse every eligible
    conv -> depthwise pair and pack every eligible relu mask, not only those that lower the
    peak."""


@dataclass(frozen=True)
class BuildConfig:
    target: str = "host"


@dataclass(frozen=True)
class Config:
    train: TrainConfig = field(default_factory=TrainConfig)
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    partial_update: PartialUpdateConfig = field(default_factory=PartialUpdateConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    build: BuildConfig = field(default_factory=BuildConfig)


CHOICES: dict[str, tuple[str, ...]] = {
    "train.loss": ("cross_entropy", "mse", "elbo"),
    "train.reconstruction": ("bce", "mse"),
    "train.optimizer": ("sgd", "momentum", "adam"),
    "train.mode": ("full", "bias-only", "last-k", "sparse"),
    "quantize.scheme": ("none", "u8-asym", "s8-sym"),
    "quantize.errors": ("int8", "int16", "f32"),
    "quantize.weights": ("per-tensor", "per-channel"),
    "quantize.normalize": ("standardize", "qas", "none"),
    "quantize.rounding": ("nearest", "stochastic"),
    "quantize.update": ("auto", "fused", "requantize"),
    "build.target": ("host", "cortex-m4", "cortex-m7", "cortex-m55"),
}


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        kind = type(default).__name__ if not isinstance(default, tuple) else "list of strings"
        raise ConfigError(f"config key '{key}' must be a {kind}, got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(CHOICES[key])}, got {value!r}")
    return value


def config_from_dict(data: dict[str, Any]) -> Config:
    cfg = Config()
    sections = {f.name: f for f in fields(Config)}
    updates: dict[str, Any] = {}
    for section, body in data.items():
        if section not in sections:
            raise ConfigError(f"unknown config section '[{section}]' (known: {', '.join(sections)})")
        if not isinstance(body, dict):
            raise ConfigError(f"config section '[{section}]' must be a table")
        current = getattr(cfg, section)
        known = {f.name: getattr(current, f.name) for f in fields(current)}
        values: dict[str, Any] = {}
        for key, value in body.items():
            full = f"{section}.{key}"
            if key not in known:
                raise ConfigError(f"unknown config key '{full}' (known in [{section}]: {', '.join(known)})")
            values[key] = _coerce(full, value, known[key])
        updates[section] = replace(current, **values)
    cfg = replace(cfg, **updates)
    _validate(cfg)
    return cfg


def _validate(cfg: Config) -> None:
    t = cfg.train
    if not t.learning_rate > 0:
        raise ConfigError(f"config key 'train.learning_rate' must be positive, got {t.learning_rate}")
    if not t.kl_weight >= 0:
        raise ConfigError(f"config key 'train.kl_weight' must be >= 0, got {t.kl_weight}")
    if t.batch_size < 1:
        raise ConfigError(f"config key 'train.batch_size' must be >= 1, got {t.batch_size}")
    p = cfg.partial_update
    if not 0.0 <= p.lambda_min <= p.lambda_max <= 1.0:
        raise ConfigError(
            "config keys 'partial_update.lambda_min' <= 'partial_update.lambda_max' must lie in [0, 1], "
            f"got {p.lambda_min} and {p.lambda_max}"
        )
    q = cfg.quantize
    if (p.lambda_min, p.lambda_max) != (1.0, 1.0) and (q.scheme == "none" or q.errors == "f32"):
        raise ConfigError(
            "config key 'partial_update.lambda_min': dynamic partial updates select structures by their integer "
            "error; set [quantize] scheme = \"u8-asym\" or \"s8-sym\" with errors = \"int8\" or \"int16\""
        )
    if q.scheme != "none":
        for key in ("alpha_w", "alpha_a", "alpha_e"):
            a = getattr(q, key)
            if not 0.0 < a <= 1.0:
                raise ConfigError(f"config key 'quantize.{key}' must be in (0, 1], got {a}")
        if not 0.0 <= q.headroom <= 1.0:
            raise ConfigError(f"config key 'quantize.headroom' must be in [0, 1], got {q.headroom}")
        if q.update == "fused" and (q.errors == "f32" or q.normalize != "none"):
            raise ConfigError(
                "config key 'quantize.update': \"fused\" applies plain SGD to int8 gradients; with errors = "
                f"{q.errors!r} and normalize = {q.normalize!r} use \"requantize\" (or \"auto\")"
            )
        if q.weights == "per-channel" and (q.errors != "int8" or resolved_update(q) != "fused"):
            raise ConfigError("config key 'quantize.weights': \"per-channel\" needs errors = \"int8\" and the fused "
                              f"update (got errors = {q.errors!r}, update = {resolved_update(q)!r}): each row keeps "
                              "its own grid through the fused update, and the input gradient rescales int8 errors "
                              "to one int16 scale")
        if q.update == "requantize" and q.errors == "int16":
            raise ConfigError("config key 'quantize.update': \"requantize\" needs errors int8 or f32 (the int16-error "
                              "kernels are the fused update's); use \"fused\" (or \"auto\")")
        if t.optimizer != "sgd" or t.batch_size != 1:
            raise ConfigError(
                "config key 'quantize.scheme': quantized training updates weights with plain SGD, one sample "
                f"at a time; got optimizer {t.optimizer!r} and batch_size {t.batch_size}"
            )
    if cfg.memory.stream_accumulator_bytes < 0:
        raise ConfigError("config key 'memory.stream_accumulator_bytes' must be >= 0 (0 = off), got "
                          f"{cfg.memory.stream_accumulator_bytes}")
    if cfg.memory.stream_all and not cfg.memory.stream_accumulator_bytes:
        raise ConfigError("config key 'memory.stream_all' needs 'memory.stream_accumulator_bytes' > 0 (the "
                          "smallest accumulator to stream)")
    if cfg.memory.stream_accumulator_bytes and q.scheme == "none":
        raise ConfigError("config key 'memory.stream_accumulator_bytes' streams the int32 accumulators of a "
                          "quantized step; set [quantize] scheme = \"u8-asym\" or \"s8-sym\"")
    if cfg.memory.budget_bytes < 0:
        raise ConfigError(
            f"config key 'memory.budget_bytes' must be >= 0 (0 = no checkpointing), got {cfg.memory.budget_bytes}"
        )


def load_config(path: str | Path | None) -> Config:
    """Read a train.toml; None gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    return config_from_dict(data)
