"""Hierarchical softmax (hs=1): gensim's Huffman codes and points (sorted and unsorted
vocabularies, after build_vocab(update=True)), one skip-gram and one CBOW update of the kernel
against a numpy reference (float64, the kernels' sigmoid table), hs with negative sampling,
reproducibility, the loss against gensim's, save/load, and score() against gensim's."""

import logging

import numpy as np
import pytest
from fastrnn import _C, LineSentence, Word2Vec, word2vec_score
from fastrnn.word2vec_kv import load_npz, save_npz

gensim = pytest.importorskip("gensim")
from gensim.models import Word2Vec as GensimW2V  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402


@pytest.fixture(scope="module")
def lee():
    return list(LineSentence(datapath("lee_background.cor")))


def _tree_of(model):
    """{word: (codes, points)} of a fastrnn model."""
    offsets, codes, points = model._tree
    return {
        w: (
            codes[offsets[i] : offsets[i + 1]].tolist(),
            points[offsets[i] : offsets[i + 1]].tolist(),
        )
        for i, w in enumerate(model.wv.index_to_key)
    }


def _gensim_tree_of(model):
    return {
        w: (
            model.wv.get_vecattr(w, "code").tolist(),
            model.wv.get_vecattr(w, "point").tolist(),
        )
        for w in model.wv.index_to_key
    }


@pytest.mark.parametrize("sorted_vocab", [1, 0])
def test_huffman_codes_and_points_are_gensims(lee, sorted_vocab):
    kw = dict(hs=1, negative=0, min_count=2, sorted_vocab=sorted_vocab)
    ours, theirs = Word2Vec(**kw), GensimW2V(**kw)
    ours.build_vocab(lee)
    theirs.build_vocab(lee)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert _tree_of(ours) == _gensim_tree_of(theirs)  # (many equal counts: ties as gensim's)
    assert ours.syn1.shape == (len(ours.wv), 100) and not ours.syn1.any()


def test_huffman_tree_is_rebuilt_on_update_as_gensims(lee):
    kw = dict(hs=1, negative=0, min_count=3, vector_size=16, epochs=1, workers=1)
    ours, theirs = Word2Vec(lee[:150], **kw), GensimW2V(lee[:150], **kw)
    assert _tree_of(ours) == _gensim_tree_of(theirs)
    trained = ours.syn1.copy()
    ours.build_vocab(lee[150:], update=True)
    theirs.build_vocab(lee[150:], update=True)
    assert ours.wv.index_to_key == theirs.wv.index_to_key and len(ours.wv) > len(trained)
    assert _tree_of(ours) == _gensim_tree_of(theirs)
    np.testing.assert_array_equal(ours.syn1[: len(trained)], trained)  # grown with zero rows
    assert ours.syn1.shape == theirs.syn1.shape and not ours.syn1[len(trained) :].any()
    ours.train(lee[150:], total_examples=ours.corpus_count, epochs=1)
    assert ours.syn1[len(trained) - 1 :].any()


@pytest.mark.parametrize("negative", [0, 5])
def test_output_weights_and_memory_estimate_are_gensims(lee, negative):
    kw = dict(hs=1, negative=negative, vector_size=8, min_count=5)
    ours, theirs = Word2Vec(**kw), GensimW2V(**kw)
    ours.build_vocab(lee)
    theirs.build_vocab(lee)
    assert ours.estimate_memory() == theirs.estimate_memory()
    assert ours.syn1neg.shape == ((len(ours.wv), 8) if negative else (0, 8))


def test_a_one_word_vocabulary_has_an_empty_path():
    offsets, codes, points = _C.w2v_huffman(np.array([7], dtype=np.int64))
    assert offsets.tolist() == [0, 0] and len(codes) == len(points) == 0


# ---- one update against a numpy reference ----

_TABLE = 4096  # the kernels' sigmoid: the centre of each of 4096 buckets over (-6, 6)
_SIGMOID = 1.0 / (1.0 + np.exp(-((np.arange(_TABLE + 1) + 0.5) * (12.0 / _TABLE) - 6.0)))


def _gradient(f, label, alpha):
    if not -6.0 < f < 6.0:
        return 0.0
    return (
        label - _SIGMOID[int((np.float32(f) + np.float32(6)) * np.float32(_TABLE / 12))]
    ) * alpha


def _log_loss(f, label):
    return 0.0 if not -6.0 < f < 6.0 else np.logaddexp(0.0, -f if label else f)


def _reference(sg, cbow_mean, words, syn0, syn1, tree, window, alpha):
    """The kernel's updates of one sentence, in float64: every position's context (all words
    within `window`) against the centre word's path; returns (syn0, syn1, loss)."""
    syn0, syn1 = syn0.astype(np.float64), syn1.astype(np.float64)
    offsets, codes, points = tree
    loss = 0.0
    for i, centre in enumerate(words):
        ctx = [
            words[j] for j in range(max(0, i - window), min(len(words), i + window + 1)) if j != i
        ]
        nodes = points[offsets[centre] : offsets[centre + 1]]
        labels = 1.0 - codes[offsets[centre] : offsets[centre + 1]]
        if sg:  # dX from Y before its update, Y from X before its update
            X, Y = syn0[ctx], syn1[nodes]
            S = X @ Y.T
            loss += sum(
                _log_loss(f, lab)
                for f, lab in zip(S.ravel(), np.tile(labels, len(ctx)), strict=True)
            )
            G = np.array(
                [
                    [_gradient(f, lab, alpha) for f, lab in zip(row, labels, strict=True)]
                    for row in S
                ]
            )
            np.add.at(syn1, nodes, G.T @ X)
            np.add.at(syn0, ctx, G @ Y)
        else:  # the nodes one after another, each adding to the error
            h = syn0[ctx].sum(0) / (len(ctx) if cbow_mean else 1)
            err = np.zeros_like(h)
            for node, lab in zip(nodes, labels, strict=True):
                f = h @ syn1[node]
                loss += _log_loss(f, lab)
                g = _gradient(f, lab, alpha)
                err += g * syn1[node]
                syn1[node] += g * h
            np.add.at(syn0, ctx, err / (1 if cbow_mean else len(ctx)))
    return syn0, syn1, loss


@pytest.mark.parametrize("sg, cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_one_sentence_update_matches_the_numpy_reference(sg, cbow_mean):
    rng = np.random.default_rng(3)
    V, E, window, alpha = 9, 12, 2, 0.05
    counts = rng.integers(1, 50, V).astype(np.int64)
    tree = _C.w2v_huffman(counts)
    syn0 = rng.uniform(-0.6, 0.6, (V, E)).astype(np.float32)
    syn1 = rng.uniform(-0.6, 0.6, (V, E)).astype(np.float32)
    words = np.array([3, 0, 5, 8, 1, 3, 7], dtype=np.int32)  # (a word twice)
    before = syn0.copy()
    want0, want1, want_loss = _reference(sg, cbow_mean, words, syn0, syn1, tree, window, alpha)
    trainer = _C.W2vTrainer(
        syn0, np.zeros_like(syn0), counts, np.full(V, 2**32 - 1, dtype=np.uint32),
        sg=bool(sg), window=window, negative=0, ns_exponent=0.75, cbow_mean=bool(cbow_mean),
        shrink_windows=False, compute_loss=True, alpha=alpha, min_alpha=alpha, workers=1,
        seed=1, hs=True, syn1=syn1, code_offsets=tree[0], codes=tree[1], points=tree[2],
    )  # fmt: skip
    trainer.start(len(words))
    trainer.train_ids(words, np.array([0, len(words)], dtype=np.int64), 0)
    assert np.abs(want0 - before).max() > 1e-2  # (the step moved them)
    np.testing.assert_allclose(syn0, want0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(syn1, want1, rtol=1e-4, atol=1e-6)
    assert trainer.loss == pytest.approx(want_loss, rel=1e-5)


# ---- training ----


@pytest.mark.parametrize("sg", [1, 0])
@pytest.mark.parametrize("negative", [0, 3])
def test_workers1_seed_is_reproducible_and_both_updates_run(lee, sg, negative):
    kw = dict(sg=sg, hs=1, negative=negative, vector_size=16, epochs=1, workers=1, seed=7)
    a, b = Word2Vec(lee[:100], **kw), Word2Vec(lee[:100], **kw)
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    np.testing.assert_array_equal(a.syn1, b.syn1)
    assert a.syn1.any() and bool(a.syn1neg.any()) == bool(negative)


def test_loss_is_positive_and_close_to_gensims(lee):
    # gensim adds its loss in float32 to the running total (and workers race on it), so compare
    # one worker over one epoch.
    for sg in (1, 0):
        kw = dict(sg=sg, hs=1, negative=0, window=4, vector_size=32, epochs=1, workers=1)
        ours = Word2Vec(lee, compute_loss=True, **kw).get_latest_training_loss()
        theirs = GensimW2V(lee, compute_loss=True, **kw).get_latest_training_loss()
        assert ours > 0 and ours == pytest.approx(theirs, rel=0.05), (sg, ours, theirs)


def test_hs_alone_needs_no_negative_table():
    # words counted 0 times weigh infinitely at a negative ns_exponent: negative sampling's table
    # refuses them, hierarchical softmax draws no negatives
    model = Word2Vec(hs=1, negative=0, ns_exponent=-0.5, vector_size=8, min_count=0, workers=1)
    model.build_vocab_from_freq({"a": 3, "b": 0, "c": 2})
    model.train([["a", "b", "c", "a"]] * 3, total_examples=3, epochs=2)
    assert model.syn1.any()


def test_corpus_file_and_two_workers(lee):
    path = datapath("lee_background.cor")
    model = Word2Vec(corpus_file=path, hs=1, negative=2, vector_size=16, epochs=1, workers=2)
    assert model.syn1.any() and model.syn1neg.any()
    assert np.isfinite(model.wv.vectors).all()


def test_save_load_roundtrip_and_continue(tmp_path, lee):
    kw = dict(hs=1, negative=0, vector_size=16, epochs=1, workers=1, min_count=3, sorted_vocab=0)
    model = Word2Vec(lee[:100], **kw)
    paths = _tree_of(model)
    model.wv.sort_by_descending_frequency()  # rows reordered: each word keeps its path
    model.train(lee[:100], total_examples=100, epochs=1)
    assert _tree_of(model) == paths and list(paths) != model.wv.index_to_key
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    assert loaded.hs == 1 and loaded.negative == 0
    np.testing.assert_array_equal(loaded.syn1, model.syn1)
    assert _tree_of(loaded) == _tree_of(model)
    for m in (model, loaded):
        m.train(lee[100:150], total_examples=50, epochs=1)
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(loaded.syn1, model.syn1)


def test_files_from_before_hs_load_with_hs_0(tmp_path, lee):
    Word2Vec(lee[:50], vector_size=8, epochs=1, min_count=2).save(tmp_path / "m.npz")
    meta, arrays = load_npz(tmp_path / "m.npz", "fastrnn.word2vec")
    del meta["params"]["hs"]
    save_npz(tmp_path / "old.npz", meta, {k: np.asarray(v) for k, v in arrays.items()})
    old = Word2Vec.load(tmp_path / "old.npz")
    assert old.hs == 0 and old.syn1.shape == (0, 8)


# ---- score ----


@pytest.mark.parametrize("sg, cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_score_matches_gensims_on_the_same_weights(lee, sg, cbow_mean):
    kw = dict(sg=sg, cbow_mean=cbow_mean, hs=1, negative=0, vector_size=16, window=3, epochs=2)
    theirs = GensimW2V(lee, workers=1, **kw)
    ours = Word2Vec(**kw)
    ours.build_vocab(lee)
    assert _tree_of(ours) == _gensim_tree_of(theirs)
    ours.wv.vectors[:] = theirs.wv.vectors
    ours.syn1[:] = theirs.syn1
    # the last: 10,913 words, gensim's limit of 10,000 scored; its score sums ~10^5 terms, which
    # gensim adds in float32 (as fastrnn now does; summed in double it differed by 1.9e-4)
    long = sum(lee[:60], [])
    sentences = [*lee[:40], ["attacks", "unknownword", "bombings"], ["unknownword"], [], long]
    want = theirs.score(sentences, total_sentences=len(sentences))
    got = ours.score(sentences, total_sentences=len(sentences))
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-3)  # the dots' rounding orders
    assert (got[:40] < 0).all() and got[-2] == got[-3] == 0
    assert len(ours.score(iter(sentences), total_sentences=5)) == 5


def test_score_runs_on_the_models_workers_in_jobs_of_chunksize(lee, monkeypatch):
    """Before, score() ran one sentence after another in numpy and ignored chunksize; now the
    C++ kernel scores them on the model's worker threads, chunksize sentences a job."""
    model = Word2Vec(lee[:50], hs=1, negative=0, vector_size=8, epochs=1, min_count=2, workers=3)
    calls = []
    kernel = _C.w2v_score

    def recording(*args, **kwargs):
        calls.append((kwargs["workers"], kwargs["chunksize"]))
        return kernel(*args, **kwargs)

    monkeypatch.setattr(_C, "w2v_score", recording)
    assert len(model.score(lee[:20], total_sentences=20, chunksize=7)) == 20
    assert calls == [(3, 7)]


@pytest.mark.parametrize("sg, cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_score_does_not_depend_on_workers_or_chunksize(lee, sg, cbow_mean):
    kw = dict(sg=sg, cbow_mean=cbow_mean, hs=1, negative=0, vector_size=16, min_count=2)
    model = Word2Vec(lee[:100], epochs=1, workers=1, **kw)
    sentences = [*lee[:60], [], ["unknownword"], lee[0] * 200]  # (over 10000 words: the first)
    want = model.score(sentences, total_sentences=len(sentences), chunksize=1000)
    assert want[-1] < want[0] < 0 and want[-2] == want[-3] == 0
    first = [w for w in sentences[-1] if w in model.wv][:10000]
    assert len(first) == 10000 and model.score([first], total_sentences=1)[0] == want[-1]
    for workers, chunksize in ((2, 1), (3, 7), (2, 100)):
        model.workers = workers
        got = model.score(iter(sentences), total_sentences=len(sentences), chunksize=chunksize)
        np.testing.assert_array_equal(got, want)


def test_score_reads_and_scores_the_sentences_in_batches(lee, monkeypatch):
    """score() reads a batch of sentences, scores it and reads the next (memory flat in the
    number of sentences; before, it read all of them first); a chunksize near 2**63 is one job
    (the kernel's job count overflowed: uninitialised scores)."""
    model = Word2Vec(lee, hs=1, negative=0, vector_size=8, epochs=1, workers=2, seed=1)
    want = model.score(lee[:300], total_sentences=300)
    calls = []
    kernel = _C.w2v_score

    def recording(*args, **kwargs):
        calls.append(len(args[6]) - 1)  # offsets [S+1]
        return kernel(*args, **kwargs)

    monkeypatch.setattr(_C, "w2v_score", recording)
    monkeypatch.setattr(word2vec_score, "BATCH_SENTENCES", 64)
    got = model.score(iter(lee[:300]), total_sentences=1000, chunksize=5)
    assert calls == [64, 64, 64, 64, 44] and np.array_equal(got, want)
    monkeypatch.undo()
    assert np.array_equal(model.score(lee[:300], total_sentences=300, chunksize=2**63 - 1), want)
    ids, offsets = word2vec_score.encode_sentences(model.wv.key_to_index, iter(lee[:300]), 300)
    args = (model.wv.vectors, model.syn1, *model._tree, ids, offsets)
    kw = dict(window=model.window, sg=bool(model.sg), cbow_mean=bool(model.cbow_mean), workers=2)
    assert np.array_equal(_C.w2v_score(*args, **kw, chunksize=2**63 - 1), want)


def test_the_score_kernel_names_a_bad_argument(lee):
    model = Word2Vec(lee[:20], hs=1, negative=0, vector_size=8, epochs=1, min_count=2)
    V = len(model.wv)
    args = dict(window=2, sg=True, cbow_mean=True, workers=2, chunksize=3)
    tree = model._tree
    good = (np.array([0, 1], np.int32), np.array([0, 2], np.int64))
    assert _C.w2v_score(model.wv.vectors, model.syn1, *tree, *good, **args).shape == (1,)
    bad = {
        rf"ids\[1\] = {V}, expected 0\.\.{V - 1}": (np.array([0, V], np.int32), good[1]),
        "offsets: must start at 0 and end at len": (good[0], np.array([0, 3], np.int64)),
    }
    for match, (ids, offsets) in bad.items():
        with pytest.raises(ValueError, match=match):
            _C.w2v_score(model.wv.vectors, model.syn1, *tree, ids, offsets, **args)
    with pytest.raises(ValueError, match="codes"):
        _C.w2v_score(model.wv.vectors, model.syn1, tree[0], tree[1] + 2, tree[2], *good, **args)
    with pytest.raises(ValueError, match="chunksize must be positive"):
        _C.w2v_score(model.wv.vectors, model.syn1, *tree, *good, **{**args, "chunksize": 0})


def test_score_warns_when_it_leaves_sentences_unscored(lee, caplog):
    """Exactly total_sentences + 1 sentences: the one left unscored is reported. Before, the
    scoring loop read it (and dropped it) before stopping, so the check after it found nothing
    more and said nothing."""
    model = Word2Vec(lee[:50], hs=1, negative=0, vector_size=8, epochs=1, min_count=2)
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        assert len(model.score(iter(lee[:4]), total_sentences=3)) == 3
    assert "stopped after total_sentences=3" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        assert len(model.score(iter(lee[:3]), total_sentences=3)) == 3
    assert "stopped after" not in caplog.text


@pytest.mark.parametrize(
    "name, corrupt, match",
    [
        ("hs_points", lambda a: a + 10**6, r"hs_points: expected 0\.\.\d+, got"),
        ("hs_codes", lambda a: a.astype(np.int64), r"hs_codes: expected \[\d+\] uint8, got"),
        ("hs_code_offsets", lambda a: a[::-1].copy(), "hs_code_offsets: expected to start at 0"),
    ],
)
def test_a_malformed_saved_tree_is_named(lee, tmp_path, name, corrupt, match):
    Word2Vec(lee[:50], hs=1, negative=0, vector_size=8, epochs=1, min_count=2).save(
        tmp_path / "m.npz"
    )
    meta, arrays = load_npz(tmp_path / "m.npz", "fastrnn.word2vec")
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    arrays[name] = corrupt(arrays[name])
    save_npz(tmp_path / "bad.npz", meta, arrays)
    with pytest.raises(ValueError, match="the hierarchical-softmax tree is malformed: " + match):
        Word2Vec.load(tmp_path / "bad.npz")
