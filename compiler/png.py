"""A minimal PNG writer (8-bit greyscale) for image grids, with no imaging dependency.

PNG layout: the 8-byte signature, then chunks (length, type, data, CRC-32 of type + data):
IHDR (width, height, bit depth 8, colour type 0 = greyscale, deflate, filter 0, no
interlace), one IDAT with the zlib-compressed scanlines (each prefixed by filter type 0),
and IEND.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a 2-D array of values in [0, 1] (clipped) as an 8-bit greyscale PNG."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or img.size == 0:
        raise ValueError(f"write_png needs a non-empty 2-D image, got shape {list(img.shape)}")
    pixels = np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )
    Path(path).write_bytes(data)


def grid(images: np.ndarray, columns: int, pad: int = 2, scale: int = 2) -> np.ndarray:
    """Tile [N, H, W] images into rows of `columns` with `pad` pixels of white between
    them, each pixel repeated `scale` times in both directions (28x28 digits are small)."""
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim != 3 or len(imgs) == 0:
        raise ValueError(f"grid needs [N, H, W] images, got shape {list(imgs.shape)}")
    n, h, w = imgs.shape
    rows = -(-n // columns)
    out = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad))
    for i, im in enumerate(imgs):
        r, c = divmod(i, columns)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = im
    return np.kron(out, np.ones((scale, scale)))
