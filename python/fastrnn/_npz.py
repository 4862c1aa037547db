"""A checked reader of .npz files (numpy's savez archives) that trusts nothing in them: only
uncompressed .npy members of plain number types are read (never pickled objects, so nothing is
executed), and each member's declared size is checked against its real size before its data is
read (so a hostile header cannot make the reader allocate what the file does not hold). Any
malformed archive raises ValueError naming the file."""

from __future__ import annotations

import os
import zipfile

import numpy as np


def read_npz(path) -> dict:
    """{member name without .npy: writable array} of an .npz file written by np.savez."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    arrays = {}
    size = os.path.getsize(path)
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename
                if not name.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(f"unexpected member {name!r}")
                if max(info.file_size, info.compress_size) > size:  # zipfile would read that much
                    raise ValueError(f"{name}: declares more bytes than the archive holds")
                arrays[name[: -len(".npy")]] = _read_member(z, info)
    except (FileNotFoundError, PermissionError, IsADirectoryError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - zipfile meets damage with many types (BadZipFile,
        # OSError from a negative seek, NotImplementedError for a "version 21.0" byte, ...)
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    return arrays


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"{info.filename}: unsupported .npy version {version}")
        if dtype.hasobject or dtype.kind not in "biuf":
            raise ValueError(f"{info.filename}: dtype {dtype} is not a plain number type")
        count = 1
        for s in shape:
            count *= s
        nbytes = count * dtype.itemsize
        if nbytes > info.file_size:
            raise ValueError(
                f"{info.filename}: declares {shape} {dtype} ({nbytes} bytes) in "
                f"{info.file_size} bytes"
            )
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{info.filename}: truncated data")
    return np.frombuffer(bytearray(data), dtype=dtype).reshape(shape, order="F" if fortran else "C")
