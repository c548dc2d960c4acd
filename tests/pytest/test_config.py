"""train.toml parsing: defaults, every key's validation, errors that name the key."""

from pathlib import Path

import pytest

from odtc.compiler.config import Config, ConfigError, config_from_dict, load_config
from odtc.compiler.pipeline import pipeline_string


def test_defaults_match_design() -> None:
    cfg = load_config(None)
    assert cfg.train.loss == "cross_entropy" and cfg.train.optimizer == "sgd"
    assert cfg.train.learning_rate == 0.01 and cfg.train.batch_size == 1
    assert cfg.train.trainable == ("*",) and cfg.train.mode == "full"
    assert cfg.quantize.scheme == "none" and cfg.memory.budget_bytes == 0


def test_full_file(tmp_path: Path) -> None:
    f = tmp_path / "train.toml"
    f.write_text(
        '[train]\nloss = "mse"\noptimizer = "adam"\nlearning_rate = 1\nbatch_size = 4\n'
        'mode = "last-k"\nlast_k = 2\n'
    )
    cfg = load_config(f)
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)
    s = pipeline_string(cfg)
    assert "qtrain-mark-trainable{mode=last-k k=2}" in s
    assert "optimizer=adam" in s and "batch-size=4" in s and "loss=mse" in s


@pytest.mark.parametrize(
    "data, message",
    [
        ({"train": {"lr": 0.1}}, "unknown config key 'train.lr'"),
        ({"trian": {}}, "unknown config section '[trian]'"),
        ({"train": {"optimizer": "rmsprop"}}, "config key 'train.optimizer' must be one of sgd, momentum, adam"),
        ({"train": {"learning_rate": "fast"}}, "config key 'train.learning_rate' must be a float"),
        ({"train": {"learning_rate": -1.0}}, "config key 'train.learning_rate' must be positive"),
        ({"train": {"batch_size": 0}}, "config key 'train.batch_size' must be >= 1"),
        ({"train": {"batch_size": 2.5}}, "config key 'train.batch_size' must be a int"),
        ({"train": {"trainable": "fc*"}}, "config key 'train.trainable' must be a list of strings"),
        ({"quantize": {"scheme": "u9"}}, "config key 'quantize.scheme' must be one of none, u8-asym, s8-sym"),
        ({"quantize": {"scheme": "u8-asym", "errors": "int32"}}, "config key 'quantize.errors' must be one of int8, int16, f32"),
        ({"quantize": {"scheme": "s8-sym", "errors": "int16", "update": "requantize"}},
         "config key 'quantize.update': \"requantize\" needs errors int8 or f32"),
        ({"quantize": {"scheme": "u8-asym", "weights": "per-channel", "errors": "int16"}},
         "config key 'quantize.weights': \"per-channel\" needs errors = \"int8\" and the fused update"),
        ({"quantize": {"weights": "per-row"}}, "config key 'quantize.weights' must be one of per-tensor, per-channel"),
        ({"quantize": {"scheme": "u8-asym", "alpha_w": 0.0}}, "config key 'quantize.alpha_w' must be in (0, 1]"),
        ({"quantize": {"scheme": "u8-asym", "update": "lazy"}}, "config key 'quantize.update' must be one of auto, fused, requantize"),
        ({"quantize": {"scheme": "u8-asym", "headroom": 1.5}}, "config key 'quantize.headroom' must be in [0, 1], got 1.5"),
        ({"quantize": {"scheme": "u8-asym", "errors": "f32", "update": "fused"}},
         "config key 'quantize.update': \"fused\" applies plain SGD to int8 gradients"),
        ({"quantize": {"scheme": "u8-asym"}, "train": {"optimizer": "adam"}}, "plain SGD, one sample at a time"),
        ({"partial_update": {"lambda_min": 0.7, "lambda_max": 0.2}}, "must lie in [0, 1], got 0.7 and 0.2"),
        ({"memory": {"budget_bytes": -1}}, "config key 'memory.budget_bytes' must be >= 0"),
        ({"memory": {"stream_accumulator_bytes": -8}, "quantize": {"scheme": "u8-asym"}},
         "config key 'memory.stream_accumulator_bytes' must be >= 0 (0 = off), got -8"),
        ({"memory": {"stream_accumulator_bytes": 8192}},
         "config key 'memory.stream_accumulator_bytes' streams the int32 accumulators of a quantized step"),
        ({"memory": {"stream_all": True}, "quantize": {"scheme": "u8-asym"}},
         "config key 'memory.stream_all' needs 'memory.stream_accumulator_bytes' > 0"),
        ({"partial_update": {"lambda_min": 0.5}}, "config key 'partial_update.lambda_min': dynamic partial updates select"),
        ({"train": 3}, "config section '[train]' must be a table"),
        ({"build": {"target": "m4"}}, "config key 'build.target' must be one of host, cortex-m4"),
    ],
)
def test_bad_config_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data)
    assert message in str(exc.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_config_is_value_object() -> None:
    assert config_from_dict({}) == Config()


def test_quantize_update_auto_resolves_in_the_pipeline() -> None:
    from odtc.compiler.pipeline import pipeline_string

    fused = pipeline_string(config_from_dict({"quantize": {"scheme": "u8-asym"}}))
    assert "update=fused headroom=0.0}" in fused
    mixed = pipeline_string(config_from_dict({"quantize": {"scheme": "u8-asym", "errors": "f32"}}))
    assert "update=requantize}" in mixed and "headroom" not in mixed
