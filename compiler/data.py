"""Datasets for `odtc train`: the embedded MNIST subset, IDX directories and .npz files."""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMBEDDED = Path(__file__).resolve().parent.parent / "runtime" / "data" / "mnist-subset.npz"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A dataset that cannot be found or read."""


@dataclass(frozen=True)
class Dataset:
    """Images as float32 in [0, 1] with shape [N, 28, 28] (or [N, ...]); labels int32."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def limited(self, limit: int | None) -> "Dataset":
        if limit is None:
            return self
        return Dataset(self.name, self.x_train[:limit], self.y_train[:limit], self.x_test[:limit], self.y_test[:limit])

    def labelled_per_class(self, n: int | None) -> "Dataset":
        """The first `n` training samples of every class (in dataset order): the few labels
        a device gets for a classifier trained on a frozen unsupervised encoder. The test
        split is unchanged."""
        if n is None:
            return self
        if n < 1:
            raise DataError(f"--labels-per-class must be >= 1, got {n}")
        keep: list[int] = []
        for c in np.unique(self.y_train):
            idx = np.flatnonzero(self.y_train == c)
            if len(idx) < n:
                raise DataError(f"{self.name}: class {int(c)} has {len(idx)} training samples, fewer than {n}")
            keep.extend(idx[:n].tolist())
        sel = np.sort(np.asarray(keep, dtype=np.int64))
        return Dataset(self.name, self.x_train[sel], self.y_train[sel], self.x_test, self.y_test)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic 2051 images or 2049 labels, big-endian."""
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 8:
        raise DataError(f"{path} is too short to be an IDX file")
    magic = int.from_bytes(raw[:4], "big")
    count = int.from_bytes(raw[4:8], "big")
    if magic == 2051:
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        data = np.frombuffer(raw, np.uint8, offset=16)
        if data.size != count * rows * cols:
            raise DataError(f"{path}: header says {count}x{rows}x{cols} images but holds {data.size} bytes")
        return data.reshape(count, rows, cols)
    if magic == 2049:
        data = np.frombuffer(raw, np.uint8, offset=8)
        if data.size != count:
            raise DataError(f"{path}: header says {count} labels but holds {data.size}")
        return data
    raise DataError(f"{path}: not an IDX image or label file (magic {magic})")


def _normalise(name: str, arrays: dict[str, np.ndarray]) -> Dataset:
    for key in IDX_FILES:
        if key not in arrays:
            raise DataError(f"dataset {name} has no '{key}'")
    xs = {k: np.asarray(arrays[k]) for k in ("x_train", "x_test")}
    ys = {k: np.asarray(arrays[k]).astype(np.int32).reshape(-1) for k in ("y_train", "y_test")}
    for k, x in xs.items():
        xs[k] = (x.astype(np.float32) / 255.0) if x.dtype == np.uint8 else x.astype(np.float32)
    for split in ("train", "test"):
        if len(xs[f"x_{split}"]) != len(ys[f"y_{split}"]):
            raise DataError(
                f"dataset {name}: {len(xs[f'x_{split}'])} {split} images but {len(ys[f'y_{split}'])} labels"
            )
    return Dataset(name, xs["x_train"], ys["y_train"], xs["x_test"], ys["y_test"])


def load_dataset(spec: str) -> Dataset:
    """`mnist` (the embedded subset), a directory with the four IDX files, or an .npz."""
    if spec == "mnist":
        with np.load(EMBEDDED) as f:
            return _normalise("mnist (embedded subset)", dict(f))
    if spec == "fashion-mnist":
        raise DataError(
            "fashion-mnist is not embedded; pass the directory that holds its four IDX files"
        )
    path = Path(spec)
    if path.suffix == ".npz" and path.is_file():
        with np.load(path) as f:
            return _normalise(str(path), dict(f))
    if path.is_dir():
        arrays: dict[str, np.ndarray] = {}
        for key, stem in IDX_FILES.items():
            for candidate in (path / f"{stem}.gz", path / stem):
                if candidate.is_file():
                    arrays[key] = read_idx(candidate)
                    break
            else:
                raise DataError(f"{path} has no {stem}[.gz]")
        return _normalise(str(path), arrays)
    raise DataError(f"dataset '{spec}' is neither mnist, fashion-mnist, a directory of IDX files nor an .npz file")
