"""Files: saves are atomic (a save killed mid-write, or failing, leaves the previous file intact)
and loads trust nothing (truncated, corrupted or hostile word2vec text/binary files and .npz
model files raise ValueError naming the file, never read out of bounds, never allocate a size
the file only declares, never unpickle or execute anything).

Covered savers: KeyedVectors.save_word2vec_format (text, binary, fvocab), KeyedVectors.save,
Word2Vec.save, and fastrnn-bench's --json/--markdown/--plot outputs (all through
fastrnn._atomic.atomic_write)."""

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from fastrnn import KeyedVectors, Word2Vec
from fastrnn.word2vec_format import Word2VecFormatError
from hypothesis import given
from hypothesis import strategies as st

KEY_CHARS = st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))
KEYS = st.lists(st.text(KEY_CHARS, min_size=1, max_size=6), min_size=1, max_size=8, unique=True)


def small_kv(n=6, e=4, seed=0):
    kv = KeyedVectors(e)
    rng = np.random.default_rng(seed)
    kv.add_vectors([f"w{i}é" for i in range(n)], rng.standard_normal((n, e)).astype(np.float32))
    return kv


def small_model():
    sentences = [["a", "b", "c", "d"], ["b", "c", "a"], ["d", "a", "b"]] * 5
    return Word2Vec(sentences, vector_size=8, min_count=1, epochs=1, workers=1, seed=3)


# ---- round trips ----


@given(KEYS, st.booleans(), st.integers(1, 5), st.integers(0, 2**16))
def test_word2vec_formats_round_trip(tmp_path_factory, keys, binary, E, seed):
    path = tmp_path_factory.mktemp("rt") / "v.txt"
    vectors = np.random.default_rng(seed).standard_normal((len(keys), E)).astype(np.float32)
    kv = KeyedVectors(E)
    kv.add_vectors(keys, vectors)
    kv.save_word2vec_format(path, binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == keys
    np.testing.assert_array_equal(back.vectors, vectors)


def test_npz_files_round_trip(tmp_path):
    kv = small_kv()
    kv.save(tmp_path / "kv.npz")
    back = KeyedVectors.load(tmp_path / "kv.npz")
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    model = small_model()
    model.save(tmp_path / "m.npz")
    again = Word2Vec.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(again.syn1neg, model.syn1neg)
    again.train([["a", "b", "c"]] * 3, total_examples=3, epochs=1)  # loaded arrays are writable


# ---- corrupted files: random damage gives a result or a ValueError, nothing else ----


def _damage(data: bytes, kind: str, at: int, junk: bytes) -> bytes:
    at = at % max(len(data), 1)
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :] if data else data
    if kind == "insert":
        return data[:at] + junk + data[at:]
    return junk + data[data.find(b"\n") :] if kind == "header" else data


DAMAGE = st.tuples(
    st.sampled_from(["truncate", "flip", "insert", "header"]),
    st.integers(0, 10**6),
    st.binary(max_size=12)
    | st.sampled_from([b"99999999999 4", b"3 99999999999", b"-1 4", b"nan", b"\xff\xfe", b""]),
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    d = tmp_path_factory.mktemp("pristine")
    kv = small_kv()
    kv.save_word2vec_format(d / "t.txt", binary=False)
    kv.save_word2vec_format(d / "b.bin", binary=True)
    kv.save(d / "kv.npz")
    small_model().save(d / "m.npz")
    return {name: (d / name).read_bytes() for name in ("t.txt", "b.bin", "kv.npz", "m.npz")}


@given(st.sampled_from(["t.txt", "b.bin", "kv.npz", "m.npz"]), DAMAGE)
def test_damaged_files_load_or_raise_value_error(pristine, tmp_path_factory, name, damage):
    path = tmp_path_factory.mktemp("damaged") / name
    path.write_bytes(_damage(pristine[name], *damage))
    load = {
        "t.txt": lambda: KeyedVectors.load_word2vec_format(path, binary=False),
        "b.bin": lambda: KeyedVectors.load_word2vec_format(path, binary=True),
        "kv.npz": lambda: KeyedVectors.load(path),
        "m.npz": lambda: Word2Vec.load(path),
    }[name]
    try:
        loaded = load()
    except ValueError as e:
        assert str(path) in str(e) or name in str(e)
        return
    vectors = loaded.vectors if isinstance(loaded, KeyedVectors) else loaded.wv.vectors
    assert np.isfinite(vectors).all()


# ---- hostile word2vec files ----

HOSTILE = {
    "empty": b"",
    "no header": b"hello world\n",
    "three header fields": b"1 2 3\na 1 2\n",
    "negative count": b"-5 2\na 1 2\n",
    "zero size": b"1 0\na\n",
    "fewer vectors than declared": b"3 2\na 1 2\nb 3 4\n",
    "huge count": b"999999999999999 300\na " + b"1 " * 300 + b"\n",
    "huge size": b"1 999999999999999\na 1 2\n",
    "huge both": b"99999999999 99999999999\n",
    "short vector": b"2 3\na 1 2 3\nb 1 2\n",
    "long vector": b"1 2\na 1 2 3\n",
    "bad number": b"1 2\na 1 x\n",
    "nan": b"1 2\na nan 1\n",
    "inf": b"1 2\na 1 inf\n",
    "bad utf-8": b"1 2\n\xff\xfe 1 2\n",
    "empty word": b"1 2\n 1 2\n",
    "header without newline": b"9" * 5000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_files_raise_value_error_without_big_allocations(tmp_path, name):
    path = tmp_path / "v.txt"
    path.write_bytes(HOSTILE[name])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError):
            KeyedVectors.load_word2vec_format(path, binary=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


BINARY_HOSTILE = {
    "truncated floats": b"2 3\na " + np.ones(3, "<f4").tobytes() + b"\nb " + b"\x00" * 7,
    "missing record": b"2 3\na " + np.ones(3, "<f4").tobytes(),
    "nan floats": b"1 2\na " + np.array([np.nan, 1], "<f4").tobytes(),
    "no space": b"1 2\n" + b"x" * 40,
    "huge count": b"99999999999999 300\na " + b"\x00" * 1200,
    "huge size": b"1 99999999999999\na " + b"\x00" * 8,
    "bad utf-8": b"1 1\n\xff " + np.ones(1, "<f4").tobytes(),
}


@pytest.mark.parametrize("name", sorted(BINARY_HOSTILE))
def test_hostile_binary_files_raise_value_error_without_big_allocations(tmp_path, name):
    path = tmp_path / "v.bin"
    path.write_bytes(BINARY_HOSTILE[name])
    tracemalloc.start()
    try:
        with pytest.raises(Word2VecFormatError):
            KeyedVectors.load_word2vec_format(path, binary=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_hostile_vocabulary_files_raise_value_error(tmp_path):
    small_kv().save_word2vec_format(tmp_path / "v.txt")
    (tmp_path / "vocab.txt").write_text("w0é notanumber\n", encoding="utf8")
    with pytest.raises(ValueError, match="line 1"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")


def test_saving_non_finite_vectors_is_refused_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "v.txt"
    kv = small_kv()
    kv.save_word2vec_format(path)
    before = path.read_bytes()
    kv.vectors[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        kv.save_word2vec_format(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["v.txt"]


# ---- hostile .npz files: nothing is unpickled or executed ----


class _Payload:
    """Unpickling this would create the marker file."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _npz_bytes(members: dict, compress=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _meta(meta: dict) -> bytes:
    return _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _lying_sizes(npz: bytes) -> bytes:
    """The archive with its first member's sizes claimed as 2 GB in both zip headers."""
    data = bytearray(npz)
    struct.pack_into("<II", data, 18, 2_000_000_000, 2_000_000_000)  # local header
    struct.pack_into("<II", data, data.find(b"PK\x01\x02") + 20, 2_000_000_000, 2_000_000_000)
    return bytes(data)


def hostile_npz(tmp_path) -> dict:
    _Payload.marker = str(tmp_path / "EXECUTED")
    good_meta = {"format": "fastrnn.keyedvectors", "version": 1, "index_to_key": ["a", "b"]}
    vectors = _npy(np.ones((2, 3), np.float32))
    huge_header = _npy(np.ones((2, 3), np.float32)).replace(b"(2, 3)", b"(99999999, 99999)")
    pickled = _npy(np.array([_Payload()], dtype=object), allow_pickle=True)
    return {
        "a pickle": pickle.dumps(_Payload()),
        "object array": _npz_bytes({"__meta__.npy": _meta(good_meta), "vectors.npy": pickled}),
        "pickled metadata": _npz_bytes({"__meta__.npy": pickled, "vectors.npy": vectors}),
        "huge declared shape": _npz_bytes(
            {"__meta__.npy": _meta(good_meta), "vectors.npy": huge_header}
        ),
        "compressed member": _npz_bytes(
            {"__meta__.npy": _meta(good_meta), "vectors.npy": vectors}, zipfile.ZIP_DEFLATED
        ),
        "no metadata": _npz_bytes({"vectors.npy": vectors}),
        "bad json": _npz_bytes(
            {"__meta__.npy": _npy(np.frombuffer(b"{nope", np.uint8)), "vectors.npy": vectors}
        ),
        "wrong format": _npz_bytes(
            {"__meta__.npy": _meta(dict(good_meta, format="other")), "vectors.npy": vectors}
        ),
        "keys not a list": _npz_bytes(
            {"__meta__.npy": _meta(dict(good_meta, index_to_key="ab")), "vectors.npy": vectors}
        ),
        "key count mismatch": _npz_bytes(
            {"__meta__.npy": _meta(dict(good_meta, index_to_key=["a"])), "vectors.npy": vectors}
        ),
        "string vectors": _npz_bytes(
            {"__meta__.npy": _meta(good_meta), "vectors.npy": _npy(np.array([["x"] * 3] * 2))}
        ),
        "other member": _npz_bytes(
            {"__meta__.npy": _meta(good_meta), "vectors.npy": vectors, "run.py": b"print(1)"}
        ),
        "not a zip": b"PK\x03\x04" + b"\x00" * 100,
        "lying zip sizes": _lying_sizes(
            _npz_bytes({"__meta__.npy": _meta(good_meta), "vectors.npy": vectors})
        ),
    }


def test_hostile_npz_files_raise_value_error_and_execute_nothing(tmp_path):
    for name, data in hostile_npz(tmp_path).items():
        path = tmp_path / "kv.npz"
        path.write_bytes(data)
        for load in (KeyedVectors.load, Word2Vec.load):
            tracemalloc.start()
            try:
                with pytest.raises(ValueError, match="kv.npz"):
                    load(path)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 20 * 2**20, name
        assert not (tmp_path / "EXECUTED").exists(), name


def test_hostile_model_parameters_raise_value_error(tmp_path):
    model = small_model()
    model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    meta = json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())
    cases = {
        "unknown parameter": dict(meta["params"], __class__="x"),
        "missing parameter": {k: v for k, v in meta["params"].items() if k != "window"},
        "bad type": dict(meta["params"], window="5"),
        "bad value": dict(meta["params"], vector_size=-3),
        "negative progress": dict(meta["params"], train_count=-1),
    }
    for params in cases.values():
        data = dict(members, **{"__meta__.npy": _meta(dict(meta, params=params))})
        (tmp_path / "bad.npz").write_bytes(_npz_bytes(data))
        with pytest.raises(ValueError, match="bad.npz"):
            Word2Vec.load(tmp_path / "bad.npz")
    counts = dict(members, **{"counts.npy": _npy(-np.ones(len(model.wv), np.int64))})
    (tmp_path / "bad.npz").write_bytes(_npz_bytes(counts))
    with pytest.raises(ValueError, match="counts"):
        Word2Vec.load(tmp_path / "bad.npz")


# ---- a save killed mid-write leaves the previous file intact ----

_SAVER = """
import sys, numpy as np
from fastrnn import KeyedVectors, Word2Vec
kind, path = sys.argv[1], sys.argv[2]
V, E = (30_000, 32) if kind == "text" else (150_000, 64)  # text formats slowly
kv = KeyedVectors(E)
kv.add_vectors([f"word{i}" for i in range(V)], np.full((V, E), 0.123456, np.float32))
if kind == "text":
    kv.save_word2vec_format(path, binary=False)
elif kind == "binary":
    kv.save_word2vec_format(path, binary=True)
else:
    kv.save(path)
"""


@pytest.mark.parametrize("kind", ["text", "binary", "npz"])
def test_a_save_killed_mid_write_leaves_the_previous_file_intact(tmp_path, kind):
    path = tmp_path / "vectors.out"
    small_kv().save_word2vec_format(path) if kind != "npz" else small_kv().save(path)
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, kind, str(path)])
    caught = False
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if temps and temps[0].stat().st_size > 0:
                os.kill(proc.pid, signal.SIGSTOP)  # freeze it mid-write, then look
                caught = os.path.exists(temps[0]) and temps[0].stat().st_size > 0
                assert path.read_bytes() == before
                break
            time.sleep(0.001)
    finally:
        proc.kill()
        proc.wait()
    assert caught, "the save finished before it could be interrupted"
    assert path.read_bytes() == before
    # The previous file still loads; the killed save's temporary file is all that is left.
    if kind == "npz":
        assert KeyedVectors.load(path).index_to_key == small_kv().index_to_key
    else:
        assert KeyedVectors.load_word2vec_format(path).index_to_key == small_kv().index_to_key
    assert len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]) == 1


def test_a_failing_save_removes_its_temporary_file(tmp_path):
    from fastrnn._atomic import atomic_write

    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"partial")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
    with pytest.raises(FileNotFoundError):
        small_kv().save(tmp_path / "missing-dir" / "kv.npz")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_saving_through_a_symbolic_link_writes_the_file_it_leads_to(tmp_path):
    from fastrnn._atomic import atomic_write

    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "BENCHMARKS.md"
    target.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    with atomic_write(link, "w") as f:
        f.write("new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(os.listdir(tmp_path / "real")) == ["BENCHMARKS.md"]
    small_kv().save(link)  # a saver through the same path
    assert link.is_symlink() and KeyedVectors.load(target).index_to_key == small_kv().index_to_key


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_saving_over_a_path_that_is_not_a_regular_file_is_refused(tmp_path):
    """A FIFO (or a device: as root, /dev/null) at the path is left as it is: before, the save
    renamed its temporary file over it, replacing it with a regular file."""
    import stat

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        small_kv().save(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        small_kv().save_word2vec_format(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file either


def test_bench_outputs_are_written_atomically(tmp_path, monkeypatch):
    from fastrnn import bench

    path = tmp_path / "BENCH.md"
    old = f"intro\n{bench.MD_BEGIN}\nold\n{bench.MD_END}\n"
    path.write_text(old)
    monkeypatch.setattr(os, "replace", _fail_replace)
    with pytest.raises(OSError):
        bench.write_markdown(str(path), "new")
    assert path.read_text() == old
    assert os.listdir(tmp_path) == ["BENCH.md"]


def _fail_replace(src, dst):
    raise OSError("replace refused (test)")


def test_saved_files_get_a_plain_files_permissions(tmp_path):
    """Saving goes through a temporary file (mkstemp makes it owner-only), but the saved file has
    the permissions a plain open() would give: a new file's (0o666 less the umask), or those of the
    file it replaces."""
    kv = KeyedVectors(2)
    kv.add_vectors(["a"], np.ones((1, 2)))
    mask = os.umask(0o022)
    os.umask(mask)
    new = tmp_path / "new.txt"
    kv.save_word2vec_format(new)
    assert os.stat(new).st_mode & 0o777 == 0o666 & ~mask
    kept = tmp_path / "kept.npz"
    kv.save(kept)
    os.chmod(kept, 0o640)
    kv.save(kept)
    assert os.stat(kept).st_mode & 0o777 == 0o640
