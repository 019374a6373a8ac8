"""Array files linssl reads without a download: ``.npy`` and ``.npz`` (memory-mapped) and MNIST IDX."""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

__all__ = ["load_array"]



# IDX (MNIST) element types: magic byte 3 -> big-endian dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_array(path, key: Optional[str] = None, *, flatten: bool = True) -> np.ndarray:
    """Load an array from disk, memory-mapped where the format allows. Never downloads.

    Formats (recognised by extension, IDX by its header):

    - ``.npy``: memory-mapped read-only (``np.load(path, mmap_mode="r")``);
    - ``.npz``: members stored uncompressed (``np.savez``) are memory-mapped in place; compressed
      members (``np.savez_compressed``) cannot be, and are read into memory;
    - MNIST-style IDX files (``train-images-idx3-ubyte`` ...): memory-mapped past the header;
      gzipped ones (``.gz``) are decompressed into memory.

    Parameters
    ----------
    path : str or Path
    key : str, optional
        The member of a ``.npz`` holding several arrays.
    flatten : bool, default True
        Reshape arrays with more than two dimensions (e.g. images, (n, 28, 28)) to
        ``(n, prod(rest))``; this is a view and keeps the memory map.

    Returns
    -------
    ndarray or np.memmap
        In the file's dtype (IDX data are big-endian; linssl converts chunks as it reads them).

    Examples
    --------
    >>> import numpy as np, linssl, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "images.npy")
    >>> np.save(path, np.zeros((10, 4, 4), dtype=np.uint8))
    >>> X = linssl.load_array(path)
    >>> X.shape, X.dtype, isinstance(X, np.memmap)
    ((10, 16), dtype('uint8'), True)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if key is not None and suffix != ".npz":
        raise ValueError(f"key={key!r} applies to .npz files only; {path.name} holds a single array")
    if suffix == ".npy":
        try:
            array = np.load(path, mmap_mode="r")
        except (ValueError, OSError, EOFError) as err:  # a truncated file fails to map, or its header to parse
            raise ValueError(f"{path} is not a complete .npy file ({err}); it may be truncated: write it again") from None
    elif suffix == ".npz":
        array = _load_npz_member(path, key)
    elif suffix == ".gz":
        with gzip.open(path, "rb") as f:
            raw = f.read()
        array = _parse_idx(raw, path)
    else:
        with open(path, "rb") as f:
            head = f.read(4)
        if not _looks_like_idx(head):
            raise ValueError(
                f"{path} is not a format linssl reads; use .npy, .npz or an MNIST-style IDX file (optionally .gz)"
            )
        array = _memmap_idx(path)
    if flatten and array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    return array


def _load_npz_member(path: Path, key: Optional[str]) -> np.ndarray:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename[: -len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        if key is None:
            if len(members) != 1:
                raise ValueError(f"{path.name} holds several arrays ({', '.join(sorted(members))}); pass key=... to pick one")
            key = next(iter(members))
        if key not in members:
            raise KeyError(f"{path.name} has no array {key!r}; it holds {', '.join(sorted(members))}")
        info = members[key]
        if info.compress_type != zipfile.ZIP_STORED:
            with archive.open(info) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
    # Stored member: its .npy bytes lie contiguous in the zip file, after the local file header
    # (30 bytes + name + extra field, whose lengths must be read from the local header itself).
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = _read_npy_header(f, version)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{path.name}[{key!r}] holds Python objects; linssl needs numeric arrays")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def _read_npy_header(f, version):
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def _looks_like_idx(head: bytes) -> bool:
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_DTYPES and 1 <= head[3] <= 8


def _idx_header(head: bytes, path: Path):
    if not _looks_like_idx(head[:4]):
        raise ValueError(f"{path} is not an IDX file (bad magic number {head[:4].hex()})")
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise ValueError(f"{path} is a truncated IDX file (header cut short)")
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    return np.dtype(_IDX_DTYPES[head[2]]), tuple(shape), 4 + 4 * ndim


def _check_idx_size(available: int, dtype, shape, path: Path) -> None:
    needed = int(np.prod(shape)) * dtype.itemsize
    if available != needed:
        raise ValueError(f"{path} is not a valid IDX file: its header promises {needed} data bytes, it has {available}")


def _memmap_idx(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        head = f.read(4 + 4 * 8)
    dtype, shape, offset = _idx_header(head, path)
    _check_idx_size(path.stat().st_size - offset, dtype, shape, path)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    dtype, shape, offset = _idx_header(raw[: 4 + 4 * 8], path)
    _check_idx_size(len(raw) - offset, dtype, shape, path)
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
