"""Runs examples/long_memory.py, seq2seq.py and word2vec_embeddings.py in --quick mode, each in
its own Python process as a user would, and checks the metrics of their `RESULT {json}` line and
that they saved their plot."""

import argparse

import numpy as np
import pytest
from _examples import SHAKESPEARE, import_example, run_example
from fastrnn import nn
from fastrnn.text import Vocabulary

# One fastrnn thread: the quick models are small, and on a busy machine a second thread only
# waits for a core (results do not depend on the thread count).
ONE_THREAD = ("--threads", "1")


@pytest.mark.slow
def test_long_memory_gated_cells_remember_where_the_vanilla_rnn_forgets(tmp_path):
    r, _ = run_example("long_memory", tmp_path, "--seed", "0", *ONE_THREAD)
    acc, chance = r["accuracy"], r["chance"]
    assert r["fillers"] == [10, 100]
    # A short filler: every cell learns the task.
    for cell in ("rnn", "lstm", "gru"):
        assert acc[cell][0] >= 0.9, (cell, acc)
    # A long filler: the gated cells still do, the vanilla RNN is near chance (1/8).
    assert acc["lstm"][1] >= 0.9 and acc["gru"][1] >= 0.9, acc
    assert acc["rnn"][1] <= chance + 0.25, acc
    assert min(acc["lstm"][1], acc["gru"][1]) - acc["rnn"][1] >= 0.5, acc


@pytest.mark.slow
def test_seq2seq_translates_held_out_numbers(tmp_path):
    # The target, 95 % exact matches: the quick run's 450 steps reached 0.98-1.00 for
    # seeds 0-7 (300 steps: 0.93-1.00).
    r, _ = run_example("seq2seq", tmp_path, "--seed", "0", *ONE_THREAD)
    assert r["test_size"] == 100
    assert r["exact_match"] >= 0.95, r
    assert r["final_loss"] < 0.2, r


def test_seq2seq_runs_fewer_steps_than_its_warm_up(tmp_path):
    # --steps at or below the learning-rate warm-up (50 steps) is a short run, not an error; it
    # raised CosineLR's ValueError ("warmup_steps: expected fewer than total_steps") as a traceback
    for steps in ("1", "50"):
        argv = ("--steps", steps, "--max-number", "20", "--hidden", "8", "--embed", "4")
        r, _ = run_example("seq2seq", tmp_path, *argv, *ONE_THREAD)
        assert r["steps"] == int(steps)


@pytest.mark.slow
def test_seq2seq_full_run_translates_numbers_below_a_million(tmp_path):
    """The full run (numbers below a million, 2000 held out; a few seconds) against the target."""
    r, _ = run_example("seq2seq", tmp_path, "--seed", "0", quick=False)
    assert r["test_size"] == 2000 and r["steps"] == 1500
    assert r["exact_match"] >= 0.95, r


@pytest.mark.slow
@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason=f"needs {SHAKESPEARE}")
def test_word2vec_embeddings_feed_a_sentence_classifier(tmp_path):
    pytest.importorskip("gensim")
    r, _ = run_example("word2vec_embeddings", tmp_path, "--seed", "0", *ONE_THREAD)
    assert r["vocabulary"] > 3000
    assert len(r["neighbours"]["king"]) == 5
    assert r["analogy_questions"] > 500 and 0.0 < r["analogy_score"] <= 1.0
    assert r["test_size"] == 1000
    for run in ("frozen", "trainable", "random"):
        assert r["accuracy"][run] >= 0.8, r["accuracy"]


def test_word2vec_example_trains_only_the_trainable_embeddings():
    """The classifier of word2vec_embeddings.py leaves a frozen embedding's vectors as they were
    and changes a trainable one's (the runs it compares differ only in that)."""
    example = import_example("word2vec_embeddings")
    sentences = ["a good day", "a fine good day", "the bad night", "bad dark night"]
    data = [(s, int("night" in s)) for s in sentences]
    vocab = Vocabulary.build(sentences)
    weight = np.random.default_rng(0).standard_normal((len(vocab), 6)).astype(np.float32)
    weight[vocab.pad_id] = 0
    args = argparse.Namespace(seed=0, hidden=4, lr=0.05, steps=3, batch_size=4)
    frozen = nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=0)
    trainable = nn.Embedding.from_pretrained(weight, freeze=False, padding_idx=0)
    for embedding in (frozen, trainable):
        accuracy, losses = example.train_classifier(embedding, data, data, vocab, args)
        assert len(losses) == 3 and 0.0 <= accuracy <= 1.0
    np.testing.assert_array_equal(frozen.params["weight"], weight)
    changed = np.abs(trainable.params["weight"] - weight).max(axis=1) > 0
    used = sorted({i for s in sentences for i in vocab.encode(s)})
    assert changed[used].all() and not changed[vocab.pad_id]


def test_word2vec_example_keeps_test_sentences_out_of_training_and_the_corpus():
    """make_task tells sentences apart by their tokens: a repeated line is one candidate, a text
    in both sources is left out, and no copy of a test sentence is trained on or in the corpus."""
    example = import_example("word2vec_embeddings")
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    rng = np.random.default_rng(0)

    def sentence():
        return " ".join(rng.choice(words, size=6))

    shared = "one two three four five six"
    a = [sentence() for _ in range(20)] * 3 + [shared]  # every text three times
    b = [sentence().upper() + " x" for _ in range(20)] + [shared]
    tokenizer = Vocabulary(replace_numbers=True)
    args = argparse.Namespace(train_per_class=12, test_per_class=6)
    train, test, corpus = example.make_task({"a": a, "b": b}, tokenizer, args, rng)
    key = lambda s: tuple(tokenizer.tokenize(s))  # noqa: E731
    test_texts = {key(s) for s, _ in test}
    assert len(test) == 12 and len(test_texts) == 12
    assert len(train) == 24 and not test_texts & {key(s) for s, _ in train}
    assert not test_texts & {tuple(t) for t in corpus}
    assert key(shared) not in {key(s) for s, _ in train + test}
    assert len(corpus) == len(a) + len(b) - 3 * 6 - 6  # every copy of the test texts left out
    too_many = argparse.Namespace(train_per_class=12, test_per_class=9)  # 20 texts a source
    with pytest.raises(SystemExit):
        example.make_task({"a": a, "b": b}, tokenizer, too_many, rng)


def test_word2vec_example_workers_follow_threads():
    """One fastrnn thread means one word2vec worker (reproducible with a seed) unless --workers
    says otherwise; the default without --threads is 2."""
    example = import_example("word2vec_embeddings")
    assert example.parse_args(["--threads", "1"]).workers == 1
    assert example.parse_args(["--threads", "1", "--workers", "3"]).workers == 3
    assert example.parse_args([]).workers == 2
