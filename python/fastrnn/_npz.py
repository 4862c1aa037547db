"""A checked reader of .npz files (numpy's savez archives) that trusts nothing in them: only
uncompressed .npy members of plain number types are read (never pickled objects, so nothing is
executed), and each member's declared size is checked against its real size before its data is
read or mapped (so a hostile header cannot make the reader allocate what the file does not
hold). Any malformed archive raises ValueError naming the file. Its writer, write_npz, writes
what np.savez writes with each member's data at a multiple of 64 bytes in the file, so that
read_npz can memory-map the arrays aligned."""

from __future__ import annotations

import logging
import os
import struct
import zipfile

import numpy as np

logger = logging.getLogger(__name__)

MMAP_MODES = (None, "r", "c")  # numpy's mmap_mode values that leave the file as it is
_ALIGN = 64  # as numpy aligns the data after a .npy header
_PADDING_FIELD = 0xD935  # the zip extra field id that zipalign pads local headers with


def check_mmap(mmap) -> None:
    if mmap not in MMAP_MODES:
        why = (
            ": writes through the map would leave the archive's CRC-32 stale, so the file "
            "would no longer load; use 'c' (copy-on-write) and save()"
            if mmap in ("r+", "w+")
            else ""
        )
        raise ValueError(f"mmap: expected None, 'r' or 'c', got {mmap!r}{why}")


def write_npz(f, arrays: dict) -> None:
    """Writes {name: array} to the seekable binary file f as np.savez does (a zip of uncompressed
    .npy members), padding each member's local header (a zipalign extra field) so that its data
    starts at a multiple of 64 bytes."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # local header, name, the padding field's own 4 bytes, zip64 field (force_zip64)
            start = f.tell() + 30 + len(info.filename.encode("utf8")) + 4 + 20
            pad = -start % _ALIGN
            info.extra = struct.pack("<HH", _PADDING_FIELD, pad) + bytes(pad)
            with z.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def read_npz(path, mmap=None) -> dict:
    """{member name without .npy: array} of an .npz file written by np.savez or write_npz:
    writable arrays in memory (mmap=None), or arrays memory-mapped with numpy's mmap_mode `mmap`
    ('r' read-only, 'c' copy-on-write; mapped data is read when used, so it is not checked
    against the member's CRC-32 as data read into memory is). A member whose data does not start
    at a multiple of its item size (np.savez does not align) is read into memory, with a
    warning."""
    path = os.fspath(path)
    check_mmap(mmap)
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
                key = name[: -len(".npy")]
                array = None if mmap is None else _map_member(path, info, mmap, size)
                arrays[key] = _read_member(z, info) if array is None else array
    except (FileNotFoundError, PermissionError, IsADirectoryError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - zipfile meets damage with many types (BadZipFile,
        # OSError from a negative seek, NotImplementedError for a "version 21.0" byte, ...)
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    return arrays


def _read_header(f, info: zipfile.ZipInfo) -> tuple[tuple, str, np.dtype, int]:
    """(shape, order, dtype, data bytes) of the .npy header at f's position, checked."""
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
            f"{info.filename}: declares {shape} {dtype} ({nbytes} bytes) in {info.file_size} bytes"
        )
    return shape, "F" if fortran else "C", dtype, nbytes


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with z.open(info) as f:
        shape, order, dtype, nbytes = _read_header(f, info)
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{info.filename}: truncated data")
    return np.frombuffer(bytearray(data), dtype=dtype).reshape(shape, order=order)


def _map_member(path: str, info: zipfile.ZipInfo, mode: str, size: int):
    """The member's array memory-mapped from the archive file, or None when it is empty or not
    aligned (then it is read into memory)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"{info.filename}: no local header at {info.header_offset}")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_length + extra_length
        f.seek(start)
        shape, order, dtype, nbytes = _read_header(f, info)
        offset = f.tell()
    if offset - start + nbytes > info.file_size or offset + nbytes > size:
        raise ValueError(f"{info.filename}: its data runs past the member or the archive")
    if nbytes == 0:  # (mmap cannot map 0 bytes)
        return None
    if offset % dtype.alignment:
        logger.warning(
            "%s: %s: not aligned (saved by np.savez or an older fastrnn), so read into memory; "
            "save it again to memory-map it",
            path,
            info.filename,
        )
        return None
    return np.memmap(path, dtype=dtype, mode=mode, offset=offset, shape=shape, order=order)
