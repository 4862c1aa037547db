"""Word2Vec's vocabulary features against gensim's on the same corpora: build_vocab(update=True)
(order, counts, corpus counts and subsampling thresholds after an update, from lists and plain,
.gz and .bz2 files, and training that carries on with old and new words), trim_rule,
max_final_vocab, sorted_vocab, build_vocab_from_freq, reset_from, predict_output_word and
estimate_memory; reproducibility and save/load after an update; the argument errors."""

import bz2
import gzip
import json
import logging

import numpy as np
import pytest
from fastrnn import Word2Vec
from fastrnn.word2vec import RULE_DEFAULT, RULE_DISCARD, RULE_KEEP
from fastrnn.word2vec_kv import save_npz

gensim = pytest.importorskip("gensim")
from gensim.models import Word2Vec as GensimW2V  # noqa: E402
from gensim.test.utils import common_texts  # noqa: E402


def zipf_corpus(seed: int, sentences: int, prefix: str, vocab: int = 120) -> list:
    """Token lists whose word counts fall off as 1/rank, with many ties among the rare words."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    return [
        [f"{prefix}{i}" for i in rng.choice(vocab, size=rng.integers(1, 15), p=p)]
        for _ in range(sentences)
    ]


OLD = zipf_corpus(0, 300, "w")
# old words with new ones ("n…"), some of them rarer than min_count=3
NEW = [s + t for s, t in zip(zipf_corpus(1, 200, "w"), zipf_corpus(2, 200, "n", 80), strict=True)]


def topic_corpus(seed: int, extras: dict) -> list:
    """Sentences of 8 words of one of 10 ten-word topics; extras[t]: words put into topic t's."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(10)] for t in range(10)]
    corpus = []
    for k in range(500):
        sentence = list(rng.choice(topics[k % 10], size=8))
        for word in extras.get(k % 10, ()):
            sentence.insert(int(rng.integers(0, len(sentence))), word)
        corpus.append(sentence)
    return corpus


def counts_of(model) -> list:
    return [int(model.wv.get_vecattr(w, "count")) for w in model.wv.index_to_key]


def assert_same_vocab(ours, theirs):
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert counts_of(ours) == counts_of(theirs)
    assert (ours.corpus_count, ours.corpus_total_words) == (
        theirs.corpus_count,
        theirs.corpus_total_words,
    )
    assert ours.effective_min_count == theirs.effective_min_count
    # subsampling thresholds: ours scale by 2**32, gensim's by 2**32 - 1
    ref = [theirs.wv.get_vecattr(w, "sample_int") for w in theirs.wv.index_to_key]
    assert np.all(np.abs(ours._keep.astype(np.float64) - np.minimum(ref, 2**32 - 1)) <= 2.0)
    assert np.array_equal(ours._counts, counts_of(ours))
    assert len(ours._vocab) == len(ours.wv) == len(ours.syn1neg) == len(ours.wv.vectors)


def pair(**kwargs):
    """A fastrnn and a gensim model with the same settings and no vocabulary."""
    kwargs = {"vector_size": 8, "min_count": 3, "sample": 1e-3, "workers": 1, **kwargs}
    return Word2Vec(**kwargs), GensimW2V(**kwargs)


def write(path, corpus, opener=open):
    with opener(path, "wt", encoding="utf8") as f:
        f.write("\n".join(" ".join(s) for s in corpus) + "\n")
    return str(path)


# ---- build_vocab(update=True) ----


@pytest.mark.parametrize("sorted_vocab", [1, 0])
def test_update_matches_gensim(sorted_vocab):
    ours, theirs = pair(sorted_vocab=sorted_vocab)
    for model in (ours, theirs):
        model.build_vocab(OLD)
    assert_same_vocab(ours, theirs)
    for model in (ours, theirs):
        model.build_vocab(NEW, update=True)
    assert_same_vocab(ours, theirs)
    assert any(w.startswith("n") for w in ours.wv.index_to_key)
    for model in (ours, theirs):  # a second update, of known words only
        model.build_vocab(OLD[:50], update=True)
    assert_same_vocab(ours, theirs)


@pytest.mark.parametrize("seed", [1, 7])
def test_initial_vectors_are_gensims_before_and_after_an_update(seed):
    """The same seeded draw as gensim 4's prep_vectors, for a new vocabulary and for the words an
    update adds (before, an update's words came from a stream of our own)."""
    ours, theirs = pair(seed=seed)
    for model in (ours, theirs):
        model.build_vocab(OLD)
    assert np.array_equal(ours.wv.vectors, theirs.wv.vectors)
    for model in (ours, theirs):
        model.build_vocab(NEW, update=True)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert np.array_equal(ours.wv.vectors, theirs.wv.vectors)
    assert np.array_equal(ours.syn1neg, theirs.syn1neg)


@pytest.mark.parametrize("opener", [open, gzip.open, bz2.open], ids=["plain", "gz", "bz2"])
def test_update_from_corpus_files(tmp_path, opener):
    suffix = {open: "", gzip.open: ".gz", bz2.open: ".bz2"}[opener]
    old = write(tmp_path / f"old.txt{suffix}", OLD, opener)
    new = write(tmp_path / f"new.txt{suffix}", NEW, opener)
    ours, theirs = pair()
    ours.build_vocab(corpus_file=old)
    ours.build_vocab(corpus_file=new, update=True)
    theirs.build_vocab(OLD)
    theirs.build_vocab(NEW, update=True)
    assert_same_vocab(ours, theirs)
    before = ours.wv.vectors.copy()
    trained, raw = ours.train(corpus_file=new, total_words=ours.corpus_total_words, epochs=1)
    assert raw == sum(map(len, NEW)) and 0 < trained <= raw
    assert not np.array_equal(before, ours.wv.vectors)
    if not suffix:  # the words train() expects of the file are those in the new vocabulary
        assert list(ours._file_words.values()) == [ours._vocab.count_file_words(new, 1)]


def test_training_after_update_learns_new_words_and_moves_old_ones():
    old = topic_corpus(0, {})
    new = topic_corpus(1, {0: ["apple", "pie"], 5: ["snow", "flake"]})
    model = Word2Vec(old, vector_size=16, min_count=2, sample=0, sg=1, window=3, workers=1)
    old_size = len(model.wv)
    model.build_vocab(new, update=True)
    assert model.wv.index_to_key[old_size:] == ["apple", "pie", "snow", "flake"]
    assert model.syn1neg.shape == model.wv.vectors.shape
    assert not model.syn1neg[old_size:].any()
    before = model.wv.vectors.copy()
    assert np.array_equal(model.wv.vectors[:old_size], before[:old_size])
    model.train(new, total_examples=model.corpus_count, epochs=model.epochs)
    moved = np.any(model.wv.vectors != before, axis=1)
    assert moved.all()  # old and new words
    similarity = model.wv.similarity
    assert similarity("apple", "pie") > 0.9 and similarity("snow", "flake") > 0.9
    assert similarity("apple", "flake") < 0.7 and similarity("pie", "snow") < 0.7
    assert all(w.startswith("t0") or w == "pie" for w, _ in model.wv.most_similar("apple"))


def test_update_is_reproducible_with_one_worker():
    def run(seed):
        model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, seed=seed, epochs=2)
        model.build_vocab(NEW, update=True)
        model.train(NEW, total_examples=model.corpus_count, epochs=2)
        return model

    a, b, c = run(3), run(3), run(4)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert np.array_equal(a.syn1neg, b.syn1neg)
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)


def test_new_words_start_from_their_own_seeded_vectors():
    a = Word2Vec(vector_size=8, min_count=3, seed=5)
    a.build_vocab(OLD)
    first = a.wv.vectors.copy()
    a.build_vocab(NEW, update=True)
    added = a.wv.vectors[len(first) :]
    assert np.array_equal(a.wv.vectors[: len(first)], first)
    assert np.all(np.abs(added) <= 1 / 8)
    assert not np.array_equal(added, first[: len(added)])  # not a replay of the first stream


def test_save_load_after_update_round_trips(tmp_path):
    model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1, max_final_vocab=200)
    model.build_vocab(NEW, update=True)
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    assert loaded.wv.index_to_key == model.wv.index_to_key
    assert counts_of(loaded) == counts_of(model)
    for name in ("syn1neg", "_keep", "_counts"):
        assert np.array_equal(getattr(loaded, name), getattr(model, name))
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
    for name in ("corpus_count", "corpus_total_words", "effective_min_count", "max_final_vocab"):
        assert getattr(loaded, name) == getattr(model, name)
    for m in (model, loaded):  # both carry on alike
        m.train(NEW, total_examples=m.corpus_count, epochs=1)
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
    loaded.build_vocab(OLD, update=True)
    assert len(loaded.wv) == len(model.wv)


def test_files_saved_before_the_vocabulary_parameters_load(tmp_path):
    model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        arrays = dict(f)
    meta = json.loads(arrays.pop("__meta__").tobytes())
    for name in ("sorted_vocab", "max_final_vocab", "effective_min_count"):
        del meta["params"][name]
    del arrays["keep"]
    save_npz(tmp_path / "old.npz", meta, arrays)
    loaded = Word2Vec.load(tmp_path / "old.npz")
    assert (loaded.sorted_vocab, loaded.max_final_vocab, loaded.effective_min_count) == (1, None, 3)
    assert np.array_equal(loaded._keep, model._keep)


# ---- trim_rule, max_final_vocab, sorted_vocab ----


def rule(word, count, min_count):
    if word.endswith("7"):
        return RULE_DISCARD
    if word.endswith("9") and count == 1:
        return RULE_KEEP
    return RULE_DEFAULT


def test_trim_rule_matches_gensim():
    ours, theirs = pair()
    for model in (ours, theirs):
        model.build_vocab(OLD, trim_rule=rule)
    assert_same_vocab(ours, theirs)
    assert "w7" not in ours.wv and "w109" in ours.wv
    for model in (ours, theirs):
        model.build_vocab(NEW, update=True, trim_rule=rule)
    assert_same_vocab(ours, theirs)
    ours = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1, trim_rule=rule)
    theirs = GensimW2V(OLD, vector_size=8, min_count=3, workers=1, epochs=1, trim_rule=rule)
    assert ours.wv.index_to_key == theirs.wv.index_to_key


@pytest.mark.parametrize("max_final_vocab", [1, 7, 30, 119, 120, 10**6])
@pytest.mark.parametrize("min_count", [1, 4])
def test_max_final_vocab_matches_gensim(max_final_vocab, min_count):
    calls = {"ours": [], "theirs": []}
    ours, theirs = pair(max_final_vocab=max_final_vocab)
    ours.min_count = theirs.min_count = min_count
    for name, model in (("ours", ours), ("theirs", theirs)):
        model.build_vocab(OLD, trim_rule=lambda *args, name=name: calls[name].append(args))
    assert_same_vocab(ours, theirs)
    assert calls["ours"] == calls["theirs"]  # the rule sees the raised min_count
    assert len(ours.wv) <= max_final_vocab
    for model in (ours, theirs):
        model.build_vocab(NEW, update=True)
    assert_same_vocab(ours, theirs)


def test_sorted_vocab_orders_like_gensim():
    for sorted_vocab in (0, 1):
        ours, theirs = pair(sorted_vocab=sorted_vocab)
        ours.min_count = theirs.min_count = 1
        for model in (ours, theirs):
            model.build_vocab(common_texts)
        assert_same_vocab(ours, theirs)
    assert ours.wv.index_to_key[:4] == ["system", "graph", "trees", "user"]  # ties: latest first


def test_pruned_counts_are_not_taken_for_the_files_word_count(tmp_path):
    path = write(tmp_path / "c.txt", OLD)
    model = Word2Vec(vector_size=8, min_count=1, max_vocab_size=40, workers=1)
    model.build_vocab(corpus_file=path)
    assert model._file_words == {}  # pruned counts fall short; train() counts the file
    model.train(corpus_file=path, total_words=model.corpus_total_words, epochs=1)
    assert list(model._file_words.values()) == [model._vocab.count_file_words(path, 1)]


# ---- build_vocab_from_freq ----


def test_build_vocab_from_freq_matches_gensim():
    freq = {f"x{i}": 40 - i // 3 for i in range(40)}  # 40 down to 27, three of each
    more = {"x0": 5, "new1": 35, "new2": 1, "x39": 31}  # x39 was left out at 27
    ours, theirs = pair(sample=0)  # these counts would subsample a short corpus away
    ours.min_count = theirs.min_count = 30
    for model in (ours, theirs):
        model.build_vocab_from_freq(freq, corpus_count=7, trim_rule=rule, keep_raw_vocab=True)
    assert_same_vocab(ours, theirs)
    assert ours.raw_vocab == theirs.raw_vocab == freq
    for model in (ours, theirs):
        model.build_vocab_from_freq(more, update=True)
    assert_same_vocab(ours, theirs)
    assert ours.corpus_count == 0 and ours.corpus_total_words == 0  # as gensim: left alone
    assert ours.wv.index_to_key[-2:] == ["new1", "x39"] and counts_of(ours)[-1] == 31
    assert not ours.raw_vocab
    before = ours.wv.vectors.copy()
    ours.train([["x0", "new1", "x1"]] * 20, total_examples=20, epochs=2)
    assert not np.array_equal(before, ours.wv.vectors)


# ---- predict_output_word, estimate_memory ----


@pytest.mark.parametrize("cbow_mean", [1, 0])
def test_predict_output_word_matches_gensim(cbow_mean):
    ours = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=3, cbow_mean=cbow_mean)
    theirs = GensimW2V(vector_size=8, min_count=3, workers=1, cbow_mean=cbow_mean)
    theirs.build_vocab(OLD)
    assert theirs.wv.index_to_key == ours.wv.index_to_key
    theirs.wv.vectors, theirs.syn1neg = ours.wv.vectors.copy(), ours.syn1neg.copy()
    for context in (["w1", "w2", "unseen"], ["w3", 5], ["w0"]):
        got = ours.predict_output_word(context, topn=5)
        want = theirs.predict_output_word(context, topn=5)
        assert [w for w, _ in got] == [w for w, _ in want]
        assert np.allclose([p for _, p in got], [p for _, p in want], rtol=1e-5)
    assert len(ours.predict_output_word(["w1"], topn=10**6)) == len(ours.wv)


def test_predict_output_word_without_known_context(caplog):
    model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1)
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        assert model.predict_output_word(["unseen"]) is None
    assert "none of the context words" in caplog.text


def test_estimate_memory_matches_gensim():
    ours, theirs = pair()
    for model in (ours, theirs):
        model.build_vocab(OLD)
    assert ours.estimate_memory() == theirs.estimate_memory()
    assert ours.estimate_memory(vocab_size=1000) == theirs.estimate_memory(vocab_size=1000)
    assert ours.estimate_memory(report={"x": 1}) == theirs.estimate_memory(report={"x": 1})


# ---- build_vocab's min_count, sample and dry_run ----


def test_build_vocab_min_count_and_sample_override_as_gensim():
    """gensim's build_vocab(min_count=, sample=): a new vocabulary is made with them and stores
    them as the model's; an update uses them (effective_min_count) without storing them. They
    were refused as unexpected arguments."""
    ours, theirs = pair(min_count=1)

    def state(m):
        return (m.min_count, m.sample, m.effective_min_count, m.corpus_count, len(m.wv))

    for calls in (
        dict(min_count=4, sample=0.01),
        dict(update=True, min_count=6, sample=0.1),
        dict(),  # the stored settings
    ):
        corpus = NEW if calls.get("update") else OLD
        for model in (ours, theirs):
            model.build_vocab(corpus, **calls)
        assert_same_vocab(ours, theirs)
        assert state(ours) == state(theirs), calls
    assert (ours.min_count, ours.sample) == (4, 0.01)
    with pytest.raises(TypeError, match="min_count: expected an int"):
        ours.build_vocab(OLD, min_count=2.5)
    with pytest.raises(ValueError, match="sample: expected a finite number >= 0"):
        ours.build_vocab(OLD, sample=-1)


def vocabulary_state(model) -> tuple:
    """What build_vocab may change: keys, vectors (copied), the subsampling table (the object),
    corpus counts, effective_min_count, min_count and sample."""
    return (
        list(model.wv.index_to_key),
        model.wv.vectors.copy(),
        model._keep,
        model.corpus_count,
        model.corpus_total_words,
        model.effective_min_count,
        model.min_count,
        model.sample,
    )


@pytest.mark.parametrize("update", [False, True])
def test_build_vocab_dry_run_reports_gensims_numbers_and_changes_nothing(update, caplog):
    """build_vocab(dry_run=True) reports what the settings would retain (gensim's prepare_vocab
    report) and leaves the model as it was; it was refused as an unexpected argument."""
    ours, theirs = pair()
    if update:
        ours.build_vocab(OLD)
    before = vocabulary_state(ours)
    with caplog.at_level(logging.INFO, logger="fastrnn.word2vec"):
        report = ours.build_vocab(NEW, update=update, dry_run=True, min_count=5, sample=1e-2)
    assert "dry_run" in caplog.text
    after = vocabulary_state(ours)
    assert after[0] == before[0] and np.array_equal(after[1], before[1]) and after[2] is before[2]
    assert after[3:] == before[3:]
    theirs.scan_vocab(NEW)  # gensim's own report, from a fresh model's dry run
    want = theirs.prepare_vocab(dry_run=True, min_count=5, sample=1e-2)
    for key in ("drop_unique", "retain_total", "downsample_unique", "num_retained_words"):
        assert report[key] == want[key], key
    assert abs(report["downsample_total"] - want["downsample_total"]) <= 1
    assert report["memory"] == theirs.estimate_memory(vocab_size=want["num_retained_words"])
    if update:  # the words it would add
        assert report["num_new_words"] == sum(
            w not in ours.wv for w in theirs.raw_vocab if theirs.raw_vocab[w] >= 5
        )
    assert ours.build_vocab(NEW, update=update) is None  # no report without dry_run


# ---- errors ----


def test_update_needs_a_vocabulary():
    model = Word2Vec(vector_size=8)
    with pytest.raises(RuntimeError, match=r"update=True.*no vocabulary to update"):
        model.build_vocab(OLD, update=True)
    with pytest.raises(RuntimeError, match="no vocabulary to update"):
        model.build_vocab_from_freq({"a": 3}, update=True)
    assert len(model.wv) == 0 and model.corpus_count == 0


def test_failed_updates_leave_the_model_as_it_was():
    model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1)
    state = (list(model.wv.index_to_key), model._keep.copy(), model.corpus_count)

    def broken_rule(word, count, min_count):
        raise ZeroDivisionError("a rule that fails")

    with pytest.raises(ZeroDivisionError):
        model.build_vocab(NEW, update=True, trim_rule=broken_rule)
    with pytest.raises(ValueError, match="empty corpus"):
        model.build_vocab([[], []], update=True)
    model.max_final_vocab = 2  # each word below occurs 4 times: none fits
    with pytest.raises(ValueError, match=r"vocabulary is empty.*max_final_vocab=2 raised it"):
        model.build_vocab([["a", "b", "c"]] * 4)
    assert model.wv.index_to_key == state[0] and model.corpus_count == state[2]
    assert np.array_equal(model._keep, state[1])


def test_update_refuses_keys_without_output_weights():
    model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1)
    model.wv.add_vectors(["extra"], np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="output weights.*updated"):
        model.build_vocab(NEW, update=True)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(sorted_vocab=2), ValueError, r"sorted_vocab: expected 1 .* or 0 .*, got 2"),
        (dict(max_final_vocab=0), ValueError, r"max_final_vocab: expected an int in \[1,"),
        (dict(max_final_vocab="9"), TypeError, "max_final_vocab: expected an int, got str"),
        (dict(trim_rule=RULE_KEEP), TypeError, "trim_rule: expected None or a callable"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Word2Vec(OLD, **kwargs)


@pytest.mark.parametrize(
    "word_freq, kwargs, error, match",
    [
        ([("a", 1)], {}, TypeError, "word_freq: expected a dict of word counts, got list"),
        ({"a": 2, 3: 1}, {}, TypeError, r"word_freq: expected str words, got 3 \(int\)"),
        ({"a": 2, "b": -1}, {}, ValueError, r"word_freq\['b'\]: expected an int in \[0,"),
        ({"a": 2.5}, {}, TypeError, r"word_freq\['a'\]: expected an int, got float"),
        ({"a": True}, {}, TypeError, r"word_freq\['a'\]: expected an int, got bool"),
        ({}, {}, ValueError, "word_freq: empty"),
        ({"a": 2}, dict(corpus_count=-1), ValueError, "corpus_count: expected an int"),
        ({"a": 2}, dict(trim_rule="keep"), TypeError, "trim_rule: expected None or a callable"),
    ],
)
def test_bad_word_freq(word_freq, kwargs, error, match):
    with pytest.raises(error, match=match):
        Word2Vec(vector_size=8).build_vocab_from_freq(word_freq, **kwargs)


def test_bad_predict_and_estimate_arguments():
    with pytest.raises(RuntimeError, match="needs a vocabulary"):
        Word2Vec(vector_size=8).predict_output_word(["a"])
    model = Word2Vec(OLD, vector_size=8, min_count=3, workers=1, epochs=1)
    with pytest.raises(TypeError, match="context_words_list: expected a list of words"):
        model.predict_output_word("w1")
    with pytest.raises(ValueError, match=r"topn: expected an int in \[0,"):
        model.predict_output_word(["w1"], topn=-1)
    with pytest.raises(TypeError, match="vocab_size: expected an int"):
        model.estimate_memory(vocab_size=1.5)
    with pytest.raises(TypeError, match="trim_rule: expected None or a callable"):
        model.build_vocab(NEW, update=True, trim_rule=1)


def test_loaded_models_count_vecattr_is_not_the_trainers_counts(tmp_path):
    """Changing wv's 'count' vecattr after load() must not change negative sampling."""
    model = Word2Vec([["a", "b", "a"]] * 5, min_count=1, vector_size=4, workers=1, epochs=1)
    model.save(tmp_path / "m.npz")
    back = Word2Vec.load(tmp_path / "m.npz")
    back.wv.set_vecattr("a", "count", 1)
    assert back._counts[back.wv.get_index("a")] == 10


def test_reset_from_takes_the_vocabulary_and_starts_the_weights_afresh():
    """reset_from(other) as gensim's: other's words in its order, counts, corpus counts and
    subsampling thresholds; this model's own vector_size and seed for new vectors, zero output
    weights. Training it then gives what a model that counted the corpus itself gives, bit for
    bit (one worker, the same seed)."""
    counted = Word2Vec(vector_size=8, min_count=3, seed=5, workers=1)
    counted.build_vocab(OLD)
    kwargs = dict(vector_size=12, min_count=3, window=3, negative=4, seed=9, workers=1)
    reset = Word2Vec(**kwargs)
    reset.reset_from(counted)
    own = Word2Vec(**kwargs)
    own.build_vocab(OLD)
    theirs = GensimW2V(vector_size=12, min_count=3, seed=9, workers=1)
    theirs.build_vocab(OLD)
    other_gensim = GensimW2V(vector_size=8, min_count=3, seed=5, workers=1)
    other_gensim.build_vocab(OLD)
    theirs.reset_from(other_gensim)
    assert reset.wv.index_to_key == own.wv.index_to_key == theirs.wv.index_to_key
    np.testing.assert_array_equal(reset.wv.expandos["count"], theirs.wv.expandos["count"])
    assert (reset.corpus_count, reset.corpus_total_words) == (
        theirs.corpus_count,
        theirs.corpus_total_words,
    )
    assert reset.wv.vectors.shape == (len(own.wv), 12) and not reset.syn1neg.any()
    np.testing.assert_array_equal(reset.wv.vectors, own.wv.vectors)
    np.testing.assert_array_equal(reset._keep, own._keep)
    for model in (reset, own):
        model.train(OLD, total_examples=model.corpus_count, epochs=2)
    np.testing.assert_array_equal(reset.wv.vectors, own.wv.vectors)
    np.testing.assert_array_equal(reset.syn1neg, own.syn1neg)
    # the source is left as it was
    assert counted.wv.vectors.shape[1] == 8 and counted.wv.index_to_key == own.wv.index_to_key


def test_reset_from_refuses_what_it_cannot_take():
    model = Word2Vec(vector_size=4)
    with pytest.raises(TypeError, match="other_model: expected a fastrnn Word2Vec, got dict"):
        model.reset_from({})
    with pytest.raises(RuntimeError, match="other_model: has no vocabulary"):
        model.reset_from(Word2Vec(vector_size=4))


def test_constructor_takes_gensims_positional_order():
    """The constructor's parameters come in gensim's order, so a positional call means the same
    in both libraries (hs came after negative, hashfxn, null_word, ... were keyword-only: a call
    passing negative 14th set hs in gensim and negative in fastrnn)."""
    import inspect

    ours = [
        p.name
        for p in inspect.signature(Word2Vec).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    theirs = [
        p.name
        for p in inspect.signature(GensimW2V).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    assert ours == theirs
    args = [None, None, 8, 0.05, 3, 1, None, 0.0, 7, 1, 0.001, 1, 0, 4, 0.5, 0, hash, 2]
    ours, theirs = Word2Vec(*args), GensimW2V(*args)
    for name in ("vector_size", "alpha", "window", "min_count", "sample", "seed", "workers"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("min_alpha", "sg", "hs", "negative", "ns_exponent", "cbow_mean", "epochs"):
        assert getattr(ours, name) == getattr(theirs, name), name
