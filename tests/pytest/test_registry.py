"""The pass registry: every key is its pass's name and has a lit test named after it."""

from pathlib import Path

import pytest

from odtc.passes import get_all_passes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", sorted(get_all_passes()))
def test_registry_key_matches_pass_and_has_lit_test(key: str) -> None:
    cls = get_all_passes()[key]()
    assert cls.name == key
    assert (ROOT / "tests" / "filecheck" / "passes" / f"{key}.mlir").is_file(), f"no lit test for {key}"
    # File = pass name with underscores, minus the dialect prefix (STYLE.md).
    module_file = ROOT / "passes" / (key.removeprefix("qtrain-").replace("-", "_") + ".py")
    assert module_file.is_file(), module_file


def test_pipeline_only_uses_registered_passes() -> None:
    from odtc.compiler.config import Config
    from odtc.compiler.pipeline import pipeline_string

    names = [p.split("{")[0] for p in pipeline_string(Config()).split(",") if p and "=" not in p.split("{")[0]]
    for name in names:
        assert name in get_all_passes(), name
