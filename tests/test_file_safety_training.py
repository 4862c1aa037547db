"""File safety of the training files (fastrnn.nn checkpoints, fastrnn.text vocabularies), as
test_file_safety.py holds it for word2vec files: a save killed mid-write leaves the previous
file intact; damaged, truncated or hostile files raise ValueError naming the file and never
unpickle, execute or allocate what the file only declares."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile

import fastrnn
import numpy as np
import pytest
from fastrnn import nn, optim
from fastrnn.text import Vocabulary
from hypothesis import given
from hypothesis import strategies as st
from test_file_safety import DAMAGE, _damage, _npy, _npz_bytes, hostile_npz


def model_and_optimizer(seed=0, width=6):
    model = nn.Sequential(
        nn.Embedding(11, width, seed=seed),
        nn.Recurrent(fastrnn.LSTM(width, 8, seed=seed + 1), carry_state=True),
        nn.Linear(8, 11, seed=seed + 3),
    )
    return model, optim.Adam([model], lr=0.01)


def vocabulary(n=20):
    return Vocabulary([f"tok{i}é" for i in range(n)], [0, 0] + list(range(n)))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    d = tmp_path_factory.mktemp("pristine")
    model, opt = model_and_optimizer()
    nn.save_checkpoint(d / "c.npz", modules={"lm": model}, optimizer=opt, step=3)
    voc = vocabulary()
    voc.save(d / "v.json")
    assert len(Vocabulary.load(d / "v.json")) == len(voc)
    return {"c.npz": (d / "c.npz").read_bytes(), "v.json": (d / "v.json").read_bytes()}


def load(name, path):
    if name == "c.npz":
        model, opt = model_and_optimizer(seed=9)
        return nn.load_checkpoint(path, modules={"lm": model}, optimizer=opt)
    return Vocabulary.load(path)


@given(st.sampled_from(["c.npz", "v.json"]), DAMAGE)
def test_damaged_training_files_load_or_raise_value_error(pristine, tmp_path_factory, name, d):
    path = tmp_path_factory.mktemp("damaged") / name
    path.write_bytes(_damage(pristine[name], *d))
    try:
        load(name, path)
    except ValueError as e:
        assert str(path) in str(e)


def test_hostile_checkpoints_raise_value_error_and_execute_nothing(tmp_path, pristine):
    cases = hostile_npz(tmp_path)
    with zipfile.ZipFile(io.BytesIO(pristine["c.npz"])) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    meta = json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())

    def with_meta(**changes):
        blob = np.frombuffer(json.dumps(dict(meta, **changes)).encode(), np.uint8)
        return _npz_bytes(dict(members, **{"__meta__.npy": _npy(blob)}))

    cases["missing array"] = with_meta(modules={"lm": {"0.weight": {"__array__": "nowhere"}}})
    cases["modules not a dict"] = with_meta(modules=[1, 2])
    cases["bad generator state"] = with_meta(rng={"bit_generator": "PCG64", "state": 5})
    cases["no optimizer entry"] = with_meta(optimizer=None)
    cases["metadata is a list"] = _npz_bytes(
        dict(members, **{"__meta__.npy": _npy(np.frombuffer(b"[1, 2]", np.uint8))})
    )
    for name, data in cases.items():
        path = tmp_path / "c.npz"
        path.write_bytes(data)
        model, opt = model_and_optimizer(seed=9)
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="c.npz"):
                nn.load_checkpoint(
                    path, modules={"lm": model}, optimizer=opt, rng=np.random.default_rng()
                )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 20 * 2**20, name
        assert not (tmp_path / "EXECUTED").exists(), name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"format": "fastrnn.vocabulary"}',
        b"{" * 100_000,  # deep nesting: RecursionError must become ValueError
        pytest.param(None, id="pickle"),
    ],
)
def test_hostile_vocabularies_raise_value_error(tmp_path, data):
    import pickle

    path = tmp_path / "v.json"
    path.write_bytes(pickle.dumps({"tokens": ["a"]}) if data is None else data)
    with pytest.raises(ValueError, match="v.json"):
        Vocabulary.load(path)


_SAVER = """
import sys, numpy as np
import fastrnn
from fastrnn import nn
from fastrnn.text import Vocabulary
kind, path = sys.argv[1], sys.argv[2]
if kind == "checkpoint":
    model = nn.Sequential(nn.Linear(3000, 3000, seed=0))
    nn.save_checkpoint(path, modules={"lm": model}, step=7)
else:
    voc = Vocabulary([f"token{i}" for i in range(400_000)])
    voc.save(path)
"""


@pytest.mark.parametrize("kind", ["checkpoint", "vocabulary"])
def test_a_training_file_save_killed_mid_write_leaves_the_previous_file_intact(tmp_path, kind):
    path = tmp_path / "file.out"
    if kind == "checkpoint":
        model, opt = model_and_optimizer()
        nn.save_checkpoint(path, modules={"lm": model}, optimizer=opt, step=3)
    else:
        vocabulary().save(path)
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, kind, str(path)])
    caught = False
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if temps and temps[0].stat().st_size > 0:
                os.kill(proc.pid, signal.SIGSTOP)
                caught = os.path.exists(temps[0]) and temps[0].stat().st_size > 0
                assert path.read_bytes() == before
                break
            time.sleep(0.001)
    finally:
        proc.kill()
        proc.wait()
    assert caught, "the save finished before it could be interrupted"
    assert path.read_bytes() == before
    load("c.npz" if kind == "checkpoint" else "v.json", path)
