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


@dataclass(frozen=True)
class PartialUpdateConfig:
    lambda_min: float = 1.0
    lambda_max: float = 1.0


@dataclass(frozen=True)
class MemoryConfig:
    budget_bytes: int = 0


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
    "train.loss": ("cross_entropy", "mse"),
    "train.optimizer": ("sgd", "momentum", "adam"),
    "train.mode": ("full", "bias-only", "last-k", "sparse"),
    "quantize.scheme": ("none",),
    "quantize.errors": ("int8", "int16", "f32"),
    "build.target": ("host", "cortex-m4", "cortex-m7", "cortex-m55"),
}
# Quantized training and partial updates arrive with their issue; until then the only
# accepted values are the "off" ones, and anything else is an error rather than ignored.
NOT_YET = {
    "quantize.scheme": "quantized training (u8-asym, s8-sym) is not implemented yet",
    "partial_update.lambda_min": "dynamic partial updates are not implemented yet",
    "partial_update.lambda_max": "dynamic partial updates are not implemented yet",
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
        if key in NOT_YET:
            raise ConfigError(f"config key '{key}' = {value!r}: {NOT_YET[key]}")
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
    if t.batch_size < 1:
        raise ConfigError(f"config key 'train.batch_size' must be >= 1, got {t.batch_size}")
    p = cfg.partial_update
    if (p.lambda_min, p.lambda_max) != (1.0, 1.0):
        raise ConfigError(f"config key 'partial_update.lambda_min': {NOT_YET['partial_update.lambda_min']}")
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
