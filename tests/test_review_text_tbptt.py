"""Review tests of fastrnn.text, fastrnn.nn.metrics, fastrnn.functional and fastrnn.cells: defects
found in review (unicode words split at combining marks, vocabularies that build but cannot be
saved, unbounded reads in load, unchecked flags, a context that shares the caller's lengths,
0-d and empty inputs with misleading messages, silently accepted bad arguments)."""

import json
import os

import fastrnn
import numpy as np
import pytest
from fastrnn import functional as F
from fastrnn import nn
from fastrnn import text as text_module
from fastrnn.text import Vocabulary

# ---- fastrnn.text ----


@pytest.mark.parametrize(
    ("raw", "tokens"),
    [
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # Devanagari vowel signs and virama are marks
        ("cafe\u0301 au lait", ["cafe\u0301", "au", "lait"]),  # decomposed é
        ("İstanbul", ["i\u0307stanbul"]),  # "İ".lower() is i + combining dot above
        ("Tiê\u0301ng Việt", ["tiê\u0301ng", "việt"]),
        ("don\u0301't stop", ["don\u0301't", "stop"]),
    ],
)
def test_tokenizer_keeps_combining_marks_inside_words(raw, tokens):
    v = Vocabulary.build([raw])
    assert v.tokenize(raw) == tokens
    assert v.decode(v.encode(raw)) == " ".join(tokens)
    assert v.unk_id not in v.encode(raw).tolist()


def test_a_lone_mark_is_still_a_token_and_punctuation_still_splits():
    v = Vocabulary.build([])
    assert v.tokenize("\u0301 a") == ["\u0301", "a"]
    assert v.tokenize("naïve, right?") == ["naïve", ",", "right", "?"]


def test_a_vocabulary_with_lone_surrogates_saves_and_loads(tmp_path):
    # Text decoded with errors="surrogateescape" (e.g. os.fsdecode) holds lone surrogates: the
    # vocabulary builds, so it must also save (it raised UnicodeEncodeError).
    v = Vocabulary.build(["bad \udcff bytes", "café"])
    path = tmp_path / "v.json"
    v.save(path)
    assert Vocabulary.load(path) == v
    assert os.listdir(tmp_path) == ["v.json"]
    # Ordinary non-ASCII text still gives a readable UTF-8 file.
    Vocabulary.build(["café"]).save(path)
    assert "café" in path.read_text(encoding="utf-8")


def test_load_reads_no_more_than_the_size_limit(tmp_path, monkeypatch):
    # The size check used os.path.getsize, then read everything: a file that is larger than
    # getsize says (a device, a file still growing) was read whole.
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"format": "x", "pad": "a" * 5000}))
    monkeypatch.setattr(text_module, "_MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(text_module.os.path, "getsize", lambda p: 0)
    with pytest.raises(ValueError, match="more than a vocabulary file may hold") as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_load_of_an_endless_device_raises_instead_of_exhausting_memory(monkeypatch):
    monkeypatch.setattr(text_module, "_MAX_FILE_BYTES", 1 << 16)
    with pytest.raises(ValueError, match="more than a vocabulary file may hold"):
        Vocabulary.load("/dev/zero")


@pytest.mark.parametrize("version", [True, 1.0])
def test_load_rejects_a_version_that_is_not_the_int_1(tmp_path, version):
    path = tmp_path / "v.json"
    Vocabulary.build(["a"]).save(path)
    payload = json.loads(path.read_text())
    payload["version"] = version
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="version"):
        Vocabulary.load(path)


def test_flags_of_encode_batch_and_decode_must_be_bools():
    v = Vocabulary.build(["a b"])
    # batch_first="no" was truthy: a silently transposed batch.
    with pytest.raises(TypeError, match="batch_first: expected a bool, got str"):
        v.encode_batch(["a b", "a"], batch_first="no")
    with pytest.raises(TypeError, match="skip_pad: expected a bool, got str"):
        v.decode([0, 2], skip_pad="no")
    ids, _ = v.encode_batch(["a b", "a"], batch_first=np.bool_(True))
    assert ids.shape == (2, 2)


# ---- fastrnn.nn.metrics ----


def test_accuracy_refuses_float_predictions_of_the_targets_shape():
    # Probabilities [N] with targets [N] were compared with == and gave 0.0 silently.
    with pytest.raises(TypeError, match=r"logits_or_pred: expected integer predictions"):
        nn.accuracy(np.array([0.9, 0.2]), np.array([1, 0]))
    assert nn.accuracy(np.array([True, False]), np.array([1, 1])) == 0.5
    assert nn.accuracy(np.array([1, 0], np.int32), np.array([1, 1])) == 0.5


def test_accuracy_of_logits_without_classes_names_the_argument():
    with pytest.raises(ValueError, match=r"logits_or_pred: expected at least one class"):
        nn.accuracy(np.zeros((2, 0)), np.array([1, 0]))


@pytest.mark.parametrize("bad", ["2.0", None, True, np.array([1.0]), 1 + 2j])
def test_perplexity_refuses_what_is_not_a_real_number(bad):
    with pytest.raises(TypeError, match="loss_nats: expected a real number"):
        nn.perplexity(bad)


def test_perplexity_of_numpy_and_torch_scalars():
    torch = pytest.importorskip("torch")
    assert nn.perplexity(np.float32(0.0)) == 1.0
    assert nn.perplexity(np.array(1.0)) == pytest.approx(np.e)
    assert nn.perplexity(torch.tensor(1.0)) == pytest.approx(np.e)
    assert nn.perplexity(3) == pytest.approx(np.e**3)


# ---- fastrnn.functional ----


def _gru_params(rng, I, H):
    return {
        "weight_ih": rng.standard_normal((3 * H, I)),
        "weight_hh": rng.standard_normal((3 * H, H)),
    }


def test_context_keeps_its_own_copy_of_lengths():
    # The docstring says ctx shares x and the parameters; it also shared the caller's lengths, so
    # refilling a lengths buffer before backward silently changed the gradients.
    rng = np.random.default_rng(0)
    T, N, I, H = 4, 3, 2, 3
    x = rng.standard_normal((T, N, I))
    p = _gru_params(rng, I, H)
    dy = rng.standard_normal((T, N, H))
    lengths = np.array([4, 2, 3])
    _, _, ctx = F.forward("gru", x, p, lengths=lengths)
    expected = F.backward(ctx, dy)
    lengths[:] = [1, 1, 1]
    got = F.backward(ctx, dy)
    np.testing.assert_array_equal(got[0], expected[0])
    for k in expected[2]:
        np.testing.assert_array_equal(got[2][k], expected[2][k])


def test_a_0d_x_is_reported_with_its_own_shape():
    # as_float_array made 0-d arrays 1-d, so the message gave a shape the caller never passed.
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"x: expected 3 dimensions \[T, N, I\], got shape \(\)"):
        F.forward("gru", np.float64(1.0), _gru_params(rng, 1, 2))
    p = {"weight_ih": np.ones((1, 1)), "weight_hh": np.ones((1, 1)), "bias_hh": np.ones(1)}
    p["bias_ih"] = np.float64(0.5)  # G*H = 1: a 0-d bias passed the shape check as (1,)
    with pytest.raises(ValueError, match=r"params\['bias_ih'\]: expected shape \(1,\), got \(\)"):
        F.forward("rnn_tanh", np.ones((1, 1, 1)), p)


def test_backward_grads_must_be_a_dict():
    rng = np.random.default_rng(0)
    _, _, ctx = F.forward("gru", rng.standard_normal((2, 1, 2)), _gru_params(rng, 2, 3))
    with pytest.raises(TypeError, match="grads: expected a dict of arrays, got list"):
        F.backward(ctx, np.zeros((2, 1, 3)), grads=[np.zeros((9, 2)), np.zeros((9, 3))])


@pytest.mark.parametrize("clip", [True, "2.5", np.bool_(True)])
def test_cell_clip_refuses_bools_and_strings(clip):
    # cell_clip=True was taken as a clip of 1.0 and "2.5" as 2.5.
    with pytest.raises(TypeError, match="cell_clip: expected a positive number"):
        fastrnn.LSTMCell(2, 3, cell_clip=clip)
    assert fastrnn.LSTMCell(2, 3, cell_clip=np.float32(2.5)).cell_clip == 2.5
    assert fastrnn.LSTMCell(2, 3, cell_clip=2).cell_clip == 2.0


# ---- fastrnn.cells ----


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_refuse_a_0d_input(cls):
    # torch.nn.*Cell refuses 0-d input; a numpy scalar was taken as an unbatched x [I] when I == 1.
    cell = getattr(fastrnn, cls)(1, 3, seed=0)
    for run in (cell.step, cell.forward):
        with pytest.raises(ValueError, match=r"x: expected shape \[N, I\] or \[I\], got \(\)"):
            run(np.float32(0.5))
    h = np.zeros(3, np.float32)
    state = (h, h) if cls == "LSTMCell" else h
    cell.step(np.ones(1, np.float32), state)  # unbatched x with unbatched state still works


def test_a_cells_dtype_error_says_whose_dtype_is_expected():
    # It said "x: expected dtype float32 (the dtype of x), got float64".
    cell = fastrnn.LSTMCell(2, 3, seed=0)
    with pytest.raises(
        TypeError, match=r"^x: expected dtype float32 \(the dtype of this LSTMCell\)"
    ):
        cell.step(np.ones((1, 2)))
    with pytest.raises(TypeError, match=r"^state\[1\]: expected dtype float32 \(the dtype of this"):
        cell.forward(np.ones((1, 2), np.float32), (None, np.zeros((1, 3))))
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match=r"hx: expected dtype float64 \(the dtype of x\)"):
        F.forward("gru", np.ones((2, 1, 2)), _gru_params(rng, 2, 3), np.zeros((1, 3), np.float32))


def test_accuracy_with_a_mask_selecting_nothing_names_the_mask():
    targets = np.array([[1, 2]])
    with pytest.raises(ValueError, match="mask: selects no position"):
        nn.accuracy(np.array([[1, 2]]), targets, mask=np.zeros((1, 2), bool))
    with pytest.raises(ValueError, match=r"targets: no position to count \(shape \(0,\)\)"):
        nn.accuracy(np.zeros(0, np.int64), np.zeros(0, np.int64))


@pytest.mark.parametrize("cls", [fastrnn.LSTMCell, fastrnn.GRUCell, fastrnn.RNNCell])
def test_an_unbatched_input_takes_unbatched_states_as_torch(cls):
    cell = cls(3, 4, seed=0)
    x = np.ones(3, np.float32)
    h = np.zeros((1, 4), np.float32)
    state = (h, h) if cls is fastrnn.LSTMCell else h
    with pytest.raises(ValueError, match=r"expected shape \(4,\) \(x is unbatched\), got \(1, 4\)"):
        cell(x, state)
    torch = pytest.importorskip("torch")
    twin = {fastrnn.LSTMCell: torch.nn.LSTMCell, fastrnn.GRUCell: torch.nn.GRUCell}.get(
        cls, torch.nn.RNNCell
    )(3, 4)
    th = torch.zeros(1, 4)
    with pytest.raises(RuntimeError):
        twin(torch.ones(3), (th, th) if cls is fastrnn.LSTMCell else th)


def test_a_layers_dtype_error_says_whose_dtype_is_expected():
    layer = fastrnn.GRU(3, 4, seed=0)
    with pytest.raises(TypeError, match=r"x: expected dtype float32 \(the dtype of this GRU\)"):
        layer.forward(np.ones((2, 1, 3)))
