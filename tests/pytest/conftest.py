"""Shared fixtures of the pytest suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_random_npz(path: Path, sample_shape: tuple[int, ...], n_train: int = 20, n_test: int = 5,
                     seed: int = 0) -> Path:
    """A small dataset in the .npz layout `odtc train --data x.npz` reads: float32 images in
    [0, 1) of `sample_shape`, int32 labels in 0..9."""
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        x_train=rng.random((n_train, *sample_shape), dtype=np.float32),
        y_train=rng.integers(0, 10, n_train).astype(np.int32),
        x_test=rng.random((n_test, *sample_shape), dtype=np.float32),
        y_test=rng.integers(0, 10, n_test).astype(np.int32),
    )
    return path


@pytest.fixture(scope="session")
def random_npz(tmp_path_factory: pytest.TempPathFactory):
    """`random_npz((16, 16))` -> path of a cached 20-sample random dataset of that shape."""
    root = tmp_path_factory.mktemp("datasets")
    cache: dict[tuple[int, ...], Path] = {}

    def get(sample_shape: tuple[int, ...]) -> Path:
        key = tuple(sample_shape)
        if key not in cache:
            cache[key] = write_random_npz(root / f"rand_{'x'.join(map(str, key))}.npz", key)
        return cache[key]

    return get
