"""Word2Vec (skip-gram, CBOW; negative sampling, hierarchical softmax or both): gensim's interface
on fastrnn's C++ trainer.

The vocabulary is counted in C++ (files read there; .gz and .bz2 files are decompressed here in
1 MiB chunks and fed to the C++ counter). Training an iterable first encodes it to word ids in
C++ (once per `train()` call; `Word2Vec(sentences)` reuses the ids recorded while counting, so
it reads the Python corpus once), then each epoch runs in C++ worker threads with the GIL
released (the ids are held in memory: 4 bytes per in-vocabulary token).
A plain `corpus_file` is read by the workers themselves, each over its own piece (cut at a line
end, or between two tokens of a line over 1 MiB, so one-line corpora such as text8 are shared
too); compressed ones are decompressed here into an id corpus. Progress (for the learning-rate
schedule) counts in-vocabulary words before subsampling, shared atomically by the workers. With
device="cuda" the epochs run on fastrnn's GPU sentence kernel instead (every corpus as an id
corpus).
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import math
import numbers
import os
import platform
import sys
import threading
import time
import types
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fastrnn import _C
from fastrnn._compressed import compression, naming_corruption, open_read
from fastrnn.word2vec_kv import (
    KeyedVectors,
    check_keys_for_save,
    checked_lockf,
    checked_table,
    load_npz,
    save_npz,
)
from fastrnn.word2vec_score import score_sentences

__all__ = ["RULE_DEFAULT", "RULE_DISCARD", "RULE_KEEP", "KeyedVectors", "LineSentence", "Word2Vec"]

logger = logging.getLogger(__name__)

MAX_WORDS_IN_BATCH = 10000  # sentences longer than this are split (gensim's batch size)
_CHUNK = 1 << 20
_FORMAT = "fastrnn.word2vec"

# What a trim_rule(word, count, min_count) returns (gensim.utils' values): decide by min_count,
# drop the word, or keep it.
RULE_DEFAULT = 0
RULE_DISCARD = 1
RULE_KEEP = 2


def _is_compressed(path) -> bool:
    return compression(path) is not None


def _feed_chunks(path, sink) -> None:
    """Feeds a (possibly compressed) file to sink.add_text in 1 MiB chunks."""
    with naming_corruption(path), open_read(path) as f:
        while chunk := f.read(_CHUNK):
            sink.add_text(chunk)


class LineSentence:
    """Sentences of a text file (plain, .gz or .bz2), one per line, tokens split on whitespace.

    Lines longer than max_sentence_length tokens are yielded in pieces, blank lines not at all
    (as gensim's); `limit` reads only the first lines. `source` may also be an open binary or
    text file object (rewound each pass).
    """

    def __init__(self, source, max_sentence_length: int = MAX_WORDS_IN_BATCH, limit=None):
        if max_sentence_length < 1:
            raise ValueError(f"max_sentence_length: expected >= 1, got {max_sentence_length}")
        self.source = source
        self.max_sentence_length = int(max_sentence_length)
        self.limit = limit
        if not hasattr(source, "read") and not Path(os.fspath(source)).exists():
            raise FileNotFoundError(f"LineSentence: no such file: {source}")

    def __iter__(self):
        if hasattr(self.source, "read"):
            self.source.seek(0)
            yield from self._lines(self.source)
        else:
            with naming_corruption(self.source), open_read(self.source) as f:
                yield from self._lines(f)

    def _lines(self, f):
        for i, line in enumerate(f):
            if self.limit is not None and i >= self.limit:
                return
            if isinstance(line, bytes):
                line = line.decode("utf8", errors="strict")
            tokens = line.split()
            n = self.max_sentence_length
            for j in range(0, len(tokens), n):  # (a blank line yields nothing, as gensim's)
                yield tokens[j : j + n]


# The largest window and negative: the C++ trainer sizes its scratch as 2·window + 2·negative + 4
# in an int; workers are threads.
_MAX_WINDOW_NEGATIVE = 2**24
_MAX_WORKERS = 4096


def _gpu_scratch_bytes(window: int, targets: int, E: int) -> int:
    """Shared memory a GPU block of 32 threads needs (csrc/cuda/w2v_kernels.cuh: scratch_floats
    floats, (32 + 2) · 2·window·targets + E, beside its 416-byte W2vBlockState), targets the most
    output rows of a position: negative + 1, or hs's longest Huffman path when longer."""
    return 4 * ((32 + 2) * 2 * window * targets + E) + 416


def _check_int(name: str, value, minimum: int, allow_none: bool = False, maximum=2**63 - 1):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name}: expected an int in [{minimum}, {maximum}], got {value}")
    return int(value)


def _check_float(name: str, value, minimum: float, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ValueError(
            f"{name}: expected a finite number {'>' if strict else '>='} {minimum}, got {value}"
        )
    return value


def _retained(words, counts: np.ndarray, trim_rule, min_count: int) -> np.ndarray:
    """[n] bool: which counted words [n] with counts [n] a vocabulary keeps: those counted
    min_count times, unless trim_rule(word, count, min_count) says RULE_KEEP or RULE_DISCARD."""
    retained = counts >= min_count
    if trim_rule is not None:
        for i, (word, count) in enumerate(zip(words, counts.tolist(), strict=True)):
            rule = trim_rule(word, count, min_count)
            if rule == RULE_KEEP:
                retained[i] = True
            elif rule == RULE_DISCARD:
                retained[i] = False
    return retained


def _check_trim_rule(trim_rule) -> None:
    if trim_rule is not None and not callable(trim_rule):
        raise TypeError(
            "trim_rule: expected None or a callable (word, count, min_count) -> RULE_DEFAULT, "
            f"RULE_DISCARD or RULE_KEEP, got {type(trim_rule).__name__}"
        )


def _initial_vectors(n: int, E: int, seed: int) -> np.ndarray:
    """[n, E] float32 uniform in [-1/E, 1/E) from numpy's generator seeded with `seed`: gensim 4's
    draw (prep_vectors), so both start from the same vectors."""
    vectors = np.random.default_rng(seed).random((n, E), dtype=np.float32)
    vectors *= 2.0
    vectors -= 1.0
    vectors /= E
    return vectors


class _Progress:
    """A tqdm bar with words/s when tqdm is installed and wanted; otherwise nothing."""

    def __init__(self, enabled, total: int, desc: str):
        self.bar = None
        if enabled is None:
            enabled = sys.stderr is not None and sys.stderr.isatty()
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                logger.info("tqdm is not installed: training without a progress bar")
                return
            self.bar = tqdm(total=total, unit="word", unit_scale=True, desc=desc, leave=False)

    def update_to(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Word2Vec:
    """Word2vec with negative sampling and/or hierarchical softmax; gensim's names, defaults and
    methods.

    `hs=1` trains hierarchical softmax over gensim's Huffman tree (the same code and points for
    every word, shown as wv's 'code' and 'point' vecattrs as in gensim, rebuilt from the summed
    counts by build_vocab(update=True)) with output weights
    `syn1` [V, E] (zeros at first, a zero row for each word an update adds); with `negative` > 0
    too, each position gets both updates, hierarchical softmax's first, as in gensim. hs=0 needs
    negative > 0; with negative=0 `syn1neg` stays empty ([0, E]). device='cuda' trains hs when
    the tree's longest path has at most 32 nodes (checked when training starts). The vocabulary
    arguments are gensim's: `trim_rule` (used by the constructor's vocabulary scan only, see
    build_vocab), `sorted_vocab` (1: by descending count, equal counts in reverse first-seen
    order as gensim sorts them; 0: first-seen order) and `max_final_vocab` (raises min_count to
    the count of the first word past that many, plus one; the raised value is
    `effective_min_count`). Beyond gensim's arguments: `progress` (None: a tqdm bar when stderr
    is a terminal and tqdm is installed; True/False: always/never) and `device` ("cpu", or
    "cuda" for the GPU sentence kernel of a CUDA build on a machine with a GPU: one block per
    sentence, shared negatives, Hogwild between blocks; window <= 32, negative <= 31, and a
    block's scratch within 48 KiB of shared memory: window * (negative + 1), or with hs window
    * the longest Huffman path if that is more (checked when training starts), up to about 170
    at vector_size 100; `workers` and `batch_words` unused there).

    gensim's `batch_words` (1 to 10000) is the size of the trainer's jobs in words: a job closes
    after the sentence that brings it to batch_words words; a job of a corpus in memory has its
    own random stream, a plain corpus_file's worker draws from one stream and publishes its
    progress (which sets the learning rate) after each job. `null_word=1` adds gensim's padding
    word '\\0' (counted once; with sample > 0 its own occurrences are always dropped, as
    gensim's sample_int 0) to a new vocabulary, sorted with the corpus's words as the last one
    seen; a corpus that holds the token '\\0' is then an error. `comment` is kept and saved;
    `hashfxn` is kept (not saved) and, as in gensim 4, has no effect.

    The initial vectors are gensim 4's, bit for bit: uniform in [-1/E, 1/E) from numpy's
    generator seeded with `seed`, drawn for the whole vocabulary; the words a
    build_vocab(update=True) adds get the rows a new vocabulary of the new size would start with
    from the old size on, as gensim's resize_vectors. An empty corpus, or a first vocabulary left
    empty, is an error.
    """

    def __init__(
        self,
        sentences=None,
        corpus_file=None,
        vector_size=100,
        alpha=0.025,
        window=5,
        min_count=5,
        max_vocab_size=None,
        sample=1e-3,
        seed=1,
        workers=None,
        min_alpha=0.0001,
        sg=0,
        hs=0,
        negative=5,
        ns_exponent=0.75,
        cbow_mean=1,
        hashfxn=hash,
        epochs=5,
        null_word=0,
        trim_rule=None,
        sorted_vocab=1,
        batch_words=MAX_WORDS_IN_BATCH,
        compute_loss=False,
        callbacks=(),
        comment=None,
        max_final_vocab=None,
        shrink_windows=True,
        *,
        progress=None,
        device="cpu",
    ):
        if hs not in (0, 1):
            raise ValueError(f"hs: expected 0 (no hierarchical softmax) or 1, got {hs!r}")
        self.vector_size = _check_int("vector_size", vector_size, 1)
        self.alpha = _check_float("alpha", alpha, 0.0, strict=True)
        self.min_alpha = _check_float("min_alpha", min_alpha, 0.0)
        self.window = _check_int("window", window, 1, maximum=_MAX_WINDOW_NEGATIVE)
        self.min_count = _check_int("min_count", min_count, 0)
        self.effective_min_count = self.min_count
        self.max_vocab_size = _check_int("max_vocab_size", max_vocab_size, 1, allow_none=True)
        self.max_final_vocab = _check_int("max_final_vocab", max_final_vocab, 1, allow_none=True)
        if sorted_vocab not in (0, 1):
            raise ValueError(
                f"sorted_vocab: expected 1 (by descending count) or 0 (first-seen order), "
                f"got {sorted_vocab!r}"
            )
        self.sorted_vocab = int(sorted_vocab)
        _check_trim_rule(trim_rule)
        self.sample = _check_float("sample", sample, 0.0)
        self.seed = _check_int("seed", seed, 0, maximum=2**64 - 1)
        self.workers = _check_int(
            "workers",
            min(_C.default_num_threads(), _MAX_WORKERS) if workers is None else workers,
            1,
            maximum=_MAX_WORKERS,
        )
        if sg not in (0, 1):
            raise ValueError(f"sg: expected 0 (CBOW) or 1 (skip-gram), got {sg!r}")
        self.sg = int(sg)
        if not hs and isinstance(negative, numbers.Integral) and negative == 0:
            raise ValueError(
                "hs=0 and negative=0 leave nothing to train: set hs=1 (hierarchical softmax) or "
                "negative >= 1 (negative sampling, 5-20 is usual)"
            )
        self.negative = _check_int("negative", negative, 0, maximum=_MAX_WINDOW_NEGATIVE)
        if hs and self.negative:
            logger.warning(
                "hs=1 and negative=%d: every position gets both a hierarchical-softmax and a "
                "negative-sampling update (as in gensim); usually one of them is meant",
                self.negative,
            )
        self.ns_exponent = _check_float("ns_exponent", ns_exponent, -math.inf)
        self.cbow_mean = int(bool(cbow_mean))
        if isinstance(batch_words, numbers.Integral) and batch_words > MAX_WORDS_IN_BATCH:
            raise ValueError(
                f"batch_words: expected an int in [1, {MAX_WORDS_IN_BATCH}], got {batch_words}: "
                f"gensim's training routine keeps only a job's first {MAX_WORDS_IN_BATCH} words "
                "and drops the rest, which fastrnn does not do"
            )
        self.batch_words = _check_int("batch_words", batch_words, 1, maximum=MAX_WORDS_IN_BATCH)
        if null_word not in (0, 1):
            raise ValueError(f"null_word: expected 0 or 1, got {null_word!r}")
        self.null_word = int(null_word)
        if not callable(hashfxn):
            raise TypeError(f"hashfxn: expected a callable, got {type(hashfxn).__name__}")
        self.hashfxn = hashfxn
        if comment is not None and not isinstance(comment, str):
            raise TypeError(f"comment: expected a str or None, got {type(comment).__name__}")
        self.comment = comment
        self.epochs = _check_int("epochs", epochs, 1)
        self.shrink_windows = bool(shrink_windows)
        self.compute_loss = bool(compute_loss)
        callbacks = tuple(callbacks)  # for this constructor's training only, as gensim
        self.progress = progress
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
        if device == "cuda" and (self.window > 32 or self.negative > 31):
            raise ValueError(
                f"device='cuda' supports window <= 32 and negative <= 31, got window="
                f"{self.window} negative={self.negative}"
            )
        shared = _gpu_scratch_bytes(self.window, self.negative + 1, self.vector_size)
        if device == "cuda" and shared > 48 * 1024:
            raise ValueError(
                f"device='cuda': window={self.window}, negative={self.negative} and vector_size="
                f"{self.vector_size} need {shared} bytes of a GPU block's shared memory, more "
                "than its 48 KiB: lower window or negative (window * (negative + 1) up to about "
                "170 at vector_size 100)"
            )
        self.device = device
        self.hs = int(hs)
        self.lifecycle_events: list | None = []  # gensim's record of the model's events
        self.running_training_loss = 0.0
        self.corpus_count = 0
        self.corpus_total_words = 0
        self.effective_words = 0
        self.train_count = 0
        self._epochs_done = 0
        self.wv = KeyedVectors(self.vector_size)
        self.syn1neg = np.zeros((0, self.vector_size), dtype=np.float32)
        self.syn1 = np.zeros((0, self.vector_size), dtype=np.float32)  # [V, E] with hs
        self._tree = None  # hs: (offsets [V+1], codes [n], points [n]), as _C.w2v_huffman
        self.raw_vocab = None
        self._vocab = None
        self._counts = None
        self._keep = None
        self._keys: list = []
        self._recorded = None
        self._file_words: dict = {}
        if sentences is not None and corpus_file is not None:
            raise TypeError("pass either sentences or corpus_file, not both")
        if isinstance(sentences, types.GeneratorType):  # (gensim refuses it here too)
            raise TypeError(
                "sentences: a generator, which Word2Vec(sentences) refuses as gensim's does (it "
                "can be read once, and with max_vocab_size pruning the constructor reads its "
                "corpus twice); pass a list or a restartable iterable such as LineSentence, or "
                "call build_vocab(generator) and then train(a new generator), each of which "
                "reads its corpus once"
            )
        if sentences is None and corpus_file is None and trim_rule is not None:
            logger.warning(
                "trim_rule is used only by a vocabulary scan: without a corpus it is ignored"
            )
        if sentences is None and corpus_file is None and callbacks:
            logger.warning(
                "callbacks: the model does not keep them (as gensim's), and without a corpus "
                "the constructor trains nothing, so these are ignored; pass callbacks to each "
                "train() call that should run them"
            )
        if sentences is not None or corpus_file is not None:
            # The vocabulary scan also records the corpus as ids, so train() below need not
            # read the Python corpus a second time.
            self.build_vocab(
                corpus_iterable=sentences,
                corpus_file=corpus_file,
                trim_rule=trim_rule,
                _record=True,
                _name="sentences",
            )
            self.train(
                corpus_iterable=sentences,
                corpus_file=corpus_file,
                total_examples=self.corpus_count,
                total_words=self.corpus_total_words,
                epochs=self.epochs,
                start_alpha=self.alpha,
                end_alpha=self.min_alpha,
                compute_loss=self.compute_loss,
                callbacks=callbacks,
            )
        self.add_lifecycle_event("created", params=repr(self))

    def add_lifecycle_event(self, event_name: str, log_level=logging.INFO, **event) -> None:
        """Appends an event to `lifecycle_events`, as gensim's: a copy of `event` with the event's
        name, the date and time, and the fastrnn, Python and platform versions; logs it at
        log_level (a false log_level: not logged). Setting lifecycle_events to None turns the
        record off. The model records "created", "build_vocab", "train", "saving" and
        "loaded"; save() keeps the record (as JSON: other values as their str())."""
        if not isinstance(event_name, str):
            raise TypeError(f"event_name: expected a str, got {type(event_name).__name__}")
        entry = copy.deepcopy(event)
        entry.update(
            datetime=datetime.datetime.now().isoformat(),
            fastrnn=_C.version(),
            python=sys.version,
            platform=platform.platform(),
            event=event_name,
        )
        if log_level:
            logger.log(log_level, "%s lifecycle event %s", type(self).__name__, entry)
        if self.lifecycle_events is not None:
            self.lifecycle_events.append(entry)

    # ---- vocabulary ----

    def build_vocab(
        self,
        corpus_iterable=None,
        corpus_file=None,
        update=False,
        progress_per=10000,
        keep_raw_vocab=False,
        trim_rule=None,
        *,
        min_count=None,
        sample=None,
        dry_run=False,
        _record=False,
        _name="corpus_iterable",
        **kwargs,
    ):
        """Counts the corpus and keeps the words seen min_count times (see the class for
        max_final_vocab and sorted_vocab), with new vectors (see the class) and zero output weights.

        `trim_rule(word, count, min_count)` may return RULE_KEEP or RULE_DISCARD to overrule
        min_count for a word (RULE_DEFAULT or anything else: min_count decides); it is used by
        this call only. With max_vocab_size, the pruning during the scan ignores trim_rule (gensim
        applies it there too), so a word it would keep can be pruned. keep_raw_vocab=True keeps
        the counts in `raw_vocab`.

        update=True (RuntimeError without a vocabulary) adds the new words that the same rules
        keep from the new corpus after the present ones, in first-seen order, with new vectors
        and zero output weights, so that train() carries on with old and new words. As in gensim,
        every present word's count grows by its count in the new corpus, the subsampling
        thresholds of the words kept from it are computed from its counts alone, and
        corpus_count and corpus_total_words become its own.

        The corpus is read once, so a generator will do (to train on it, pass train() a new
        one).

        `min_count` and `sample` (None: the model's) override the model's for this call, as
        gensim's: a new vocabulary stores them as model.min_count and model.sample, an update
        uses them without storing them (unlike gensim, an explicit 0 is honoured, not taken for
        the model's value). `dry_run=True` counts the corpus and changes nothing (gensim's also
        sets corpus_count, corpus_total_words and effective_min_count): it logs and returns what
        these settings would retain, gensim's report: {'drop_unique', 'retain_total',
        'downsample_unique', 'downsample_total', 'num_retained_words', 'memory'} (words left out,
        the retained words' summed count, the words subsampling thins and the expected count
        left, the words retained, and estimate_memory of that many words; with update=True also
        'num_new_words', the words the update would add). It does not run the checks of the
        vocabulary it would make (a '\\0' token with null_word=1, counts past int64), which a call
        without dry_run does. Without dry_run it returns None.
        """
        if kwargs:
            raise TypeError(f"build_vocab: unexpected arguments {', '.join(kwargs)}")
        corpus_file = self._check_corpus(corpus_iterable, corpus_file)
        _check_trim_rule(trim_rule)
        min_count = _check_int("min_count", min_count, 0, allow_none=True)
        min_count = self.min_count if min_count is None else min_count
        sample = self.sample if sample is None else _check_float("sample", sample, 0.0)
        if update:
            self._check_updatable()
        counter = _C.W2vVocabCounter(self.max_vocab_size or 0)
        if corpus_file is not None:
            if _is_compressed(corpus_file):
                _feed_chunks(corpus_file, counter)
                counter.finish_text()
            else:
                counter.count_file(corpus_file)
        else:
            counter.recording = _record and not dry_run
            counter.add_sentences(corpus_iterable, _name)
        words, counts = counter.result()
        if counter.total_words == 0:
            raise ValueError("empty corpus: it has no tokens, so there is no vocabulary to build")
        pruned = counter.min_reduce > 1
        if pruned and trim_rule is not None:
            logger.warning(
                "max_vocab_size=%d pruned the counts during the scan without trim_rule; "
                "trim_rule judged only the words left",
                self.max_vocab_size,
            )
        if dry_run:
            return self._dry_run_report(words, counts, trim_rule, bool(update), min_count, sample)
        vocab_index = self._prepare_vocab(
            words, counts, trim_rule, bool(update), keep_raw_vocab, min_count, sample
        )
        self.corpus_count = int(counter.sentences)
        self.corpus_total_words = int(counter.total_words)
        logger.info("scanned %d tokens in %d sentences", self.corpus_total_words, self.corpus_count)
        recorded = counter.recorded()
        if recorded is not None:
            raw_ids, raw_offsets = recorded
            ids = vocab_index[raw_ids]
            kept_mask = ids >= 0
            ends = np.concatenate(([0], np.cumsum(kept_mask, dtype=np.int64)))
            self._recorded = (corpus_iterable, ids[kept_mask], ends[raw_offsets], len(raw_ids))
        # With pruning the counts fall short of the file's words; train() counts them then.
        if corpus_file is not None and not _is_compressed(corpus_file) and not pruned:
            words_in_vocab = int(counts[vocab_index >= 0].sum())
            self._file_words[self._file_key(corpus_file)] = words_in_vocab
        self.add_lifecycle_event("build_vocab", update=bool(update), trim_rule=str(trim_rule))

    def build_vocab_from_freq(
        self, word_freq, keep_raw_vocab=False, corpus_count=None, trim_rule=None, update=False
    ):
        """build_vocab from a {word: count} mapping instead of a corpus; `corpus_count` becomes
        model.corpus_count (0 when None) and corpus_total_words is left as it is, as in gensim."""
        if not isinstance(word_freq, Mapping):
            raise TypeError(
                f"word_freq: expected a dict of word counts, got {type(word_freq).__name__}"
            )
        words = list(word_freq)
        for word in words:
            if not isinstance(word, str):
                raise TypeError(
                    f"word_freq: expected str words, got {word!r} ({type(word).__name__}); "
                    + _C.W2V_STR_KEYS_ADVICE
                )
        counts = np.asarray(list(word_freq.values()))
        in_range = len(counts) == 0 or 0 <= counts.min() <= counts.max() <= 2**63 - 1
        if counts.dtype.kind not in "iu" or not in_range:
            for word, count in word_freq.items():
                _check_int(f"word_freq[{word!r}]", count, 0)
        counts = counts.astype(np.int64)
        corpus_count = _check_int("corpus_count", corpus_count, 0, allow_none=True) or 0
        _check_trim_rule(trim_rule)
        if update:
            self._check_updatable()
        elif not words:
            raise ValueError("word_freq: empty, so there is no vocabulary to build")
        self._prepare_vocab(
            words, counts, trim_rule, bool(update), keep_raw_vocab, self.min_count, self.sample
        )
        self.corpus_count = corpus_count

    def reset_from(self, other_model) -> None:
        """Takes other_model's vocabulary in place of this model's (its words in its order, their
        counts and subsampling thresholds, corpus_count and corpus_total_words, as gensim's
        reset_from) and starts this model's weights afresh: new vectors drawn from this model's
        seed at its vector_size, zero output weights. A corpus counted once then serves models of
        other sizes, windows or seeds."""
        if not isinstance(other_model, Word2Vec):
            raise TypeError(
                f"other_model: expected a fastrnn Word2Vec, got {type(other_model).__name__}"
            )
        if other_model._vocab is None:
            raise RuntimeError(
                "other_model: has no vocabulary to take; build one first with build_vocab(corpus)"
            )
        other_model._follow_wv(allow_none=False)
        self._start_vocab(
            list(other_model._keys), other_model._counts.copy(), other_model._keep.copy()
        )
        self.corpus_count = other_model.corpus_count
        self.corpus_total_words = other_model.corpus_total_words
        self.effective_min_count = other_model.effective_min_count
        self.raw_vocab = defaultdict(int)
        self._recorded = None
        self._file_words = dict(other_model._file_words)

    def _check_updatable(self) -> None:
        if self._vocab is None:
            raise RuntimeError(
                "build_vocab(update=True): the model has no vocabulary to update; build one "
                "first with build_vocab(corpus) (or load a model that has one)"
            )
        self._follow_wv(allow_none=False)

    def _prepare_vocab(
        self, words, counts, trim_rule, update: bool, keep_raw_vocab, base_min_count, sample
    ) -> np.ndarray:
        """Makes the vocabulary from the counted words [n] and their counts [n] (a new one, or
        the present one extended) with min_count base_min_count (raised by max_final_vocab) and
        subsampling `sample`, which a new vocabulary stores as the model's; returns each counted
        word's index in it (-1: left out)."""
        if self.null_word and "\0" in words:
            raise ValueError(
                "null_word: the corpus holds the token '\\x00' that null_word=1 adds as gensim's "
                "padding word; remove it from the corpus or use null_word=0"
            )
        min_count = self._min_count_for(counts, base_min_count)
        retained = _retained(words, counts, trim_rule, min_count)
        if not update and not retained.any():
            raised = (
                f" (max_final_vocab={self.max_final_vocab} raised it from {base_min_count})"
                if min_count != base_min_count
                else ""
            )
            ruled = " or is kept by trim_rule" if trim_rule is not None else ""
            raise ValueError(
                f"the vocabulary is empty: no word occurs min_count={min_count} times{raised}"
                f"{ruled} (the most frequent occurs {int(counts.max())} times); lower min_count"
            )
        if update:
            self._check_summed_counts(words, counts)
        else:  # as gensim: the settings a new vocabulary was made with become the model's
            self.min_count, self.sample = base_min_count, sample
        self.effective_min_count = min_count
        self.raw_vocab = defaultdict(
            int, zip(words, counts.tolist(), strict=True) if keep_raw_vocab else ()
        )
        self._recorded = None
        self._file_words = {}
        old_size = len(self.wv) if update else 0
        if update:
            vocab_index = self._extend_vocab(words, counts, retained, sample)
        else:
            vocab_index = self._new_vocab(words, counts, retained)
        logger.info(
            "vocabulary: %d words, %d of them new, from %d counted (effective_min_count=%d)",
            len(self.wv),
            len(self.wv) - old_size,
            len(words),
            min_count,
        )
        return vocab_index

    def _check_summed_counts(self, words, counts: np.ndarray) -> None:
        """Refuses an update that would add a present word's count past int64's range (the sum
        wrapped round to a negative count: training refused it, a saved model did not load)."""
        rows = np.array([self.wv.key_to_index.get(w, -1) for w in words], dtype=np.int64)
        present = np.flatnonzero(rows >= 0)
        room = np.iinfo(np.int64).max - self._counts[rows[present]]
        over = present[counts[present] > room]
        if len(over):
            i = int(over[0])
            raise ValueError(
                f"counts: {words[i]!r} is counted {int(self._counts[rows[i]])} times already; "
                f"{int(counts[i])} more would pass the largest count, 2**63 - 1"
            )

    def _dry_run_report(self, words, counts, trim_rule, update: bool, base_min_count, sample):
        """build_vocab(dry_run=True)'s report (see there) of the counted words [n] and counts
        [n]; the model does not change."""
        min_count = self._min_count_for(counts, base_min_count)
        retained = _retained(words, counts, trim_rule, min_count)
        kept_counts = counts[retained]
        keep = _C.w2v_subsample_thresholds(kept_counts, sample) if len(kept_counts) else kept_counts
        probability = keep.astype(np.float64) / (2**32 - 1)  # [retained] of keeping a word
        report = {
            "drop_unique": int(len(words) - retained.sum()),
            "retain_total": int(kept_counts.sum()),
            "downsample_unique": int((probability < 1.0).sum()),
            "downsample_total": int((probability * kept_counts).sum()),
            "num_retained_words": int(retained.sum()),
        }
        if update:
            new = sum(1 for i in np.flatnonzero(retained) if words[i] not in self.wv.key_to_index)
            report["num_new_words"] = new
        report["memory"] = self.estimate_memory(vocab_size=report["num_retained_words"])
        logger.info(
            "build_vocab(dry_run=True): effective_min_count=%d and sample=%g would retain %s",
            min_count,
            sample,
            {k: v for k, v in report.items() if k != "memory"},
        )
        return report

    def _min_count_for(self, counts: np.ndarray, min_count: int) -> int:
        """min_count, raised when max_final_vocab words would not hold the words it keeps."""
        if self.max_final_vocab is None:
            return min_count
        first_left_out = 1
        if self.max_final_vocab < len(counts):
            kth_largest = -np.partition(-counts, self.max_final_vocab)[self.max_final_vocab]
            first_left_out = int(kth_largest) + 1
        return max(first_left_out, min_count)

    def _new_vocab(self, words, counts, retained) -> np.ndarray:
        n = len(words)
        if self.null_word:  # gensim's add_null_word: '\0' counted once, after the corpus's words
            words = [*words, "\0"]
            counts = np.append(counts, 1)
            retained = np.append(retained, True)
        kept = np.flatnonzero(retained)
        if self.sorted_vocab:
            kept = kept[np.lexsort((-kept, -counts[kept]))]  # equal counts: the latest seen first
        keep = _C.w2v_subsample_thresholds(counts[kept], self.sample)
        if self.null_word and self.sample > 0:
            keep[kept == n] = 0  # (gensim leaves its sample_int 0)
        self._start_vocab([words[i] for i in kept], counts[kept], keep)
        vocab_index = np.full(len(words), -1, dtype=np.int32)
        vocab_index[kept] = np.arange(len(kept), dtype=np.int32)
        return vocab_index[:n]

    def _extend_vocab(self, words, counts, retained, sample: float) -> np.ndarray:
        old_size = len(self.wv)
        known = self.wv.key_to_index
        vocab_index = np.array([known.get(w, -1) for w in words], dtype=np.int32)
        added = np.flatnonzero(retained & (vocab_index < 0))
        vocab_index[added] = old_size + np.arange(len(added), dtype=np.int32)
        in_vocab = vocab_index >= 0
        vocab_counts = np.concatenate([self._counts, np.zeros(len(added), dtype=np.int64)])
        vocab_counts[vocab_index[in_vocab]] += counts[in_vocab]
        keep = np.concatenate([self._keep, np.zeros(len(added), dtype=np.uint32)])
        if retained.any():
            keep[vocab_index[retained]] = _C.w2v_subsample_thresholds(counts[retained], sample)
        if len(added):
            # As gensim's resize_vectors: the rows a new vocabulary of this size would start with.
            fresh = _initial_vectors(old_size + len(added), self.vector_size, self.seed)
            vectors = fresh[old_size:]
            self.wv.add_vectors([words[i] for i in added], vectors)
            if self.negative:
                self.syn1neg = np.vstack([self.syn1neg, np.zeros_like(vectors)])
            if self.hs:
                self.syn1 = np.vstack([self.syn1, np.zeros_like(vectors)])
        self.wv.expandos["count"] = vocab_counts.copy()
        self._install_vocab(self.wv.index_to_key, vocab_counts, keep)  # (a new tree, as gensim)
        return vocab_index

    def _start_vocab(self, keys: list, counts: np.ndarray, keep=None) -> None:
        """A new vocabulary of `keys` with counts [V] (and subsampling thresholds [V], from the
        counts unless given): new vectors from the model's seed, zero output weights."""
        vectors = _initial_vectors(len(keys), self.vector_size, self.seed)
        self.wv._set(keys, vectors, counts.copy())
        self._install_vocab(keys, counts, keep)
        self.syn1neg = np.zeros_like(vectors) if self.negative else vectors[:0].copy()
        self.syn1 = np.zeros_like(vectors) if self.hs else vectors[:0].copy()

    def _install_vocab(self, keys: list, counts: np.ndarray, keep=None, tree=None) -> None:
        """The trainer's vocabulary, counts [V], subsampling thresholds [V] (from the counts
        unless given) and, with hs, Huffman tree (from the counts unless given), whose paths wv
        shows as gensim's 'code' and 'point' vecattrs."""
        self._vocab = _C.W2vVocab(list(keys))
        self._keys = list(keys)  # the trainer's word ids: see _follow_wv
        self._counts = counts
        self._keep = _C.w2v_subsample_thresholds(counts, self.sample) if keep is None else keep
        if self.hs:
            self._tree = _C.w2v_huffman(counts) if tree is None else tree
            self.wv.expandos.update(_path_vecattrs(self._tree))

    def estimate_memory(self, vocab_size=None, report=None) -> dict:
        """Bytes the model needs for vocab_size words (default: its own), by gensim's estimate
        (500 bytes a word for the vocabulary, 700 with hs, 4 per float): {'vocab', 'vectors',
        'syn1' (with hs), 'syn1neg' (with negative > 0), 'total'}, added to `report` when given."""
        vocab_size = _check_int("vocab_size", vocab_size, 0, allow_none=True) or len(self.wv)
        report = {} if report is None else report
        report["vocab"] = vocab_size * (700 if self.hs else 500)
        report["vectors"] = vocab_size * self.vector_size * 4
        if self.hs:
            report["syn1"] = vocab_size * self.vector_size * 4
        if self.negative:
            report["syn1neg"] = vocab_size * self.vector_size * 4
        report["total"] = sum(report.values())
        return report

    @staticmethod
    def _file_key(path) -> tuple:
        st = os.stat(path)
        return (os.path.abspath(os.fspath(path)), st.st_size, st.st_mtime_ns)

    @staticmethod
    def _check_corpus(corpus_iterable, corpus_file):
        if (corpus_iterable is None) == (corpus_file is None):
            raise TypeError("pass exactly one of corpus_iterable (sentences) or corpus_file")
        if corpus_iterable is not None:
            if isinstance(corpus_iterable, (str, bytes, os.PathLike)):
                raise TypeError(
                    "corpus_iterable: expected an iterable of token lists; for a file "
                    "path use corpus_file= or LineSentence(path)"
                )
            return None
        if not isinstance(corpus_file, (str, os.PathLike)):
            raise TypeError(f"corpus_file: expected a path, got {type(corpus_file).__name__}")
        if not Path(corpus_file).is_file():
            raise FileNotFoundError(f"corpus_file: no such file: {corpus_file}")
        return os.fspath(corpus_file)

    # ---- training ----

    def train(
        self,
        corpus_iterable=None,
        corpus_file=None,
        total_examples=None,
        total_words=None,
        epochs=None,
        start_alpha=None,
        end_alpha=None,
        word_count=0,
        queue_factor=2,
        report_delay=1.0,
        compute_loss=False,
        callbacks=(),
        *,
        progress=None,
        **kwargs,
    ):
        """Trains `epochs` epochs; returns (effective words trained, raw words processed).

        As in gensim, `epochs` and one of total_examples / total_words must be given; the
        learning rate decays linearly from start_alpha to end_alpha over all epochs, by exact
        word counts.
        """
        if kwargs:
            raise TypeError(f"train: unexpected arguments {', '.join(kwargs)}")
        if self._vocab is None:
            raise RuntimeError("you must first build the vocabulary (build_vocab) before training")
        self._follow_wv(allow_none=False)
        corpus_file = self._check_corpus(corpus_iterable, corpus_file)
        if epochs is None:
            raise ValueError(
                "You must specify an explicit epochs count. The usual value is epochs=model.epochs."
            )
        epochs = _check_int("epochs", epochs, 1)
        if total_examples is None and total_words is None:
            raise ValueError(
                "You must specify either total_examples or total_words, for proper "
                "learning-rate and progress calculations. If you've just built the "
                "vocabulary using the same corpus, using the count cached in the "
                "model is sufficient: total_examples=model.corpus_count."
            )
        start_alpha = (
            self.alpha
            if start_alpha is None
            else _check_float("start_alpha", start_alpha, 0.0, True)
        )
        end_alpha = (
            self.min_alpha if end_alpha is None else _check_float("end_alpha", end_alpha, 0.0)
        )
        lockf = self._trainer_lockf()  # checked before the model changes
        self.compute_loss = bool(compute_loss)
        self.running_training_loss = 0.0
        # as gensim: a call's own callbacks only, and its rate and epochs become the model's
        callbacks = tuple(callbacks)
        self.alpha, self.min_alpha, self.epochs = start_alpha, end_alpha, epochs
        progress = self.progress if progress is None else progress

        # The corpus: an id corpus in memory, or a plain file read by the workers.
        ids = offsets = None
        raw_words = None
        recorded, self._recorded = getattr(self, "_recorded", None), None
        if corpus_file is None and recorded is not None and recorded[0] is corpus_iterable:
            _, ids, offsets, raw_words = recorded
            epoch_words = len(ids)
        elif corpus_file is None:
            ids, offsets, raw_words, _ = self._vocab.encode_sentences(
                corpus_iterable, "corpus_iterable"
            )
            epoch_words = len(ids)
        elif _is_compressed(corpus_file) or self.device != "cpu":
            builder = _C.W2vIdCorpusBuilder(self._vocab)
            _feed_chunks(corpus_file, builder)
            ids, offsets, raw_words, _ = builder.result()
            epoch_words = len(ids)
        else:
            key = self._file_key(corpus_file)
            epoch_words = self._file_words.get(key)
            if epoch_words is None:
                epoch_words = self._vocab.count_file_words(corpus_file, self.workers)
                self._file_words[key] = epoch_words
        if epoch_words == 0:
            if (
                not raw_words
                and corpus_iterable is not None
                and iter(corpus_iterable) is corpus_iterable
            ):
                raise TypeError(
                    "corpus_iterable: an iterator, read already and empty now (by build_vocab, "
                    "or by Word2Vec(...)'s vocabulary scan when max_vocab_size pruning kept it "
                    "from recording the corpus); pass a list, a restartable iterable such as "
                    "LineSentence, or a new generator"
                )
            raise ValueError("the corpus has no words in the vocabulary: nothing to train")

        vectors = self.wv.vectors
        if not (vectors.dtype == np.float32 and vectors.flags.c_contiguous):
            raise ValueError("wv.vectors must be a C-contiguous float32 array")
        for name, array in (
            ("wv.vectors", vectors),
            ("syn1neg", self.syn1neg),
            ("syn1", self.syn1),
        ):
            if not array.flags.writeable:
                raise ValueError(
                    f"{name}: read-only (a model loaded with mmap='r'?), so it cannot be "
                    "trained: load it with mmap=None or mmap='c' (copy-on-write)"
                )
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            weights = np.power(self._counts.astype(np.float64), self.ns_exponent)  # [V]
            total = weights.sum()
        # the sampler's table needs a finite sum > 0 (hierarchical softmax alone has none)
        if self.negative and not (np.isfinite(total) and total > 0):
            raise ValueError(
                f"ns_exponent: count ** {self.ns_exponent} summed over this vocabulary's counts "
                f"({int(self._counts.min())} to {int(self._counts.max())}) is {total}, not a "
                "finite positive number; the usual values are -1 to 1 (0.75 by default)"
                + (
                    " (a word counted 0 times, as build_vocab_from_freq may keep, weighs "
                    "infinitely at a negative ns_exponent)"
                    if self.ns_exponent < 0 and self._counts.min() == 0
                    else ""
                )
            )
        trainer = _C.W2vTrainer(
            vectors,
            self.syn1neg if self.negative else None,
            self._counts,
            self._keep,
            sg=bool(self.sg),
            window=self.window,
            negative=self.negative,
            ns_exponent=self.ns_exponent,
            cbow_mean=bool(self.cbow_mean),
            shrink_windows=self.shrink_windows,
            compute_loss=self.compute_loss,
            alpha=start_alpha,
            min_alpha=end_alpha,
            workers=self.workers,
            seed=self.seed,
            device=_trainer_device(self.device),
            lockf=lockf,
            batch_words=self.batch_words,
            **self._trainer_hs(),
        )
        total = epoch_words * epochs
        trainer.start(total)
        bar = _Progress(progress, total, "word2vec")
        _call(callbacks, "on_train_begin", self)
        try:
            for e in range(epochs):
                _call(callbacks, "on_epoch_begin", self)
                # as gensim's _get_next_alpha: the rate as the epoch starts, which a callback
                # may have changed
                trainer.alpha = _check_float("model.alpha", self.alpha, 0.0, strict=True)
                trainer.min_alpha = _check_float("model.min_alpha", self.min_alpha, 0.0)
                epoch_id = self._epochs_done
                t0 = time.perf_counter()
                trained0, tokens0 = trainer.trained_words, trainer.file_tokens
                if ids is not None:
                    run = lambda ep=epoch_id: trainer.train_ids(ids, offsets, ep)  # noqa: E731
                else:
                    run = lambda ep=epoch_id: trainer.train_file(self._vocab, corpus_file, ep)  # noqa: E731
                _run_polling(run, trainer, bar)
                self._epochs_done += 1
                elapsed = time.perf_counter() - t0
                trained = trainer.trained_words - trained0
                logger.info(  # gensim's line, this epoch's numbers
                    "EPOCH %d: training on %d raw words (%d effective words) took %.1fs, "
                    "%.0f effective words/s",
                    e,
                    raw_words if raw_words is not None else trainer.file_tokens - tokens0,
                    trained,
                    elapsed,
                    trained / max(elapsed, 1e-9),
                )
                self.running_training_loss = float(trainer.loss)
                if callbacks:  # a callback's queries see this epoch's vectors
                    self.wv.fill_norms(force=True)
                _call(callbacks, "on_epoch_end", self)
        finally:
            bar.close()
            self.wv.fill_norms(force=True)
        self.train_count += 1
        self.effective_words = int(trainer.trained_words)
        self.running_training_loss = float(trainer.loss)
        _call(callbacks, "on_train_end", self)
        raw = raw_words * epochs if raw_words is not None else int(trainer.file_tokens)
        self.add_lifecycle_event(
            "train",
            msg=f"training on {int(raw)} raw words ({int(trainer.trained_words)} effective words) "
            f"in {epochs} epochs",
        )
        return int(trainer.trained_words), int(raw)

    def _trainer_hs(self) -> dict:
        """The trainer's hierarchical-softmax arguments: none without hs. On device='cuda', the
        longest Huffman path must fit the GPU kernel (32 nodes, and a block's shared memory)."""
        if not self.hs:
            return {}
        offsets, codes, points = self._tree
        longest = int(np.diff(offsets).max())
        shared = _gpu_scratch_bytes(self.window, max(self.negative + 1, longest), self.vector_size)
        if self.device == "cuda" and (longest > 32 or shared > 48 * 1024):
            raise ValueError(
                f"device='cuda' with hs=1: this vocabulary's longest Huffman path has {longest} "
                f"nodes and needs {shared} bytes of a GPU block's shared memory at window="
                f"{self.window}; the GPU kernel takes paths of up to 32 nodes within 48 KiB: "
                "lower window, or train on device='cpu'"
            )
        return dict(hs=True, syn1=self.syn1, code_offsets=offsets, codes=codes, points=points)

    def _trainer_lockf(self):
        """wv.vectors_lockf as the trainer takes it: None when every factor is 1 (the plain
        update), else [V] float32."""
        V = len(self.wv)
        lockf = checked_lockf(self.wv.vectors_lockf, V, "wv.vectors_lockf")
        if (lockf == 1.0).all():
            return None
        return lockf if len(lockf) == V else np.full(V, lockf[0], dtype=np.float32)

    def get_latest_training_loss(self) -> float:
        """The summed negative log-likelihood of the latest train() call (compute_loss=True)."""
        return self.running_training_loss

    def score(
        self,
        sentences,
        total_sentences=int(1e6),
        chunksize=100,
        queue_factor=2,
        report_delay=1,
    ) -> np.ndarray:
        """gensim's log-probability of each sentence (an iterable of token lists) under a model
        trained with hs=1: float32 [n], n the number of sentences up to total_sentences (the rest
        are not scored, with a warning). Out-of-vocabulary words are skipped; the model does not
        change; `sentences` is read once (a generator will do). fastrnn.word2vec_score says what
        is summed. The model's `workers` threads score the sentences in jobs of `chunksize`
        sentences, as gensim's; the scores do not depend on either. queue_factor and
        report_delay shape gensim's job queue and progress log; they are checked and unused
        (the sentences are read in batches of 10,000, each scored before the next is read)."""
        total_sentences = _check_int("total_sentences", total_sentences, 0)
        chunksize = _check_int("chunksize", chunksize, 1)
        _check_int("queue_factor", queue_factor, 1)
        _check_float("report_delay", report_delay, 0.0)
        if self._vocab is None:
            raise RuntimeError("score needs a vocabulary: build_vocab and train first")
        if not self.hs:
            raise RuntimeError(
                "score is defined for hierarchical softmax only (as in gensim): train with hs=1"
            )
        if isinstance(sentences, (str, bytes, os.PathLike)):
            raise TypeError(
                f"sentences: expected an iterable of token lists, got {type(sentences).__name__}"
            )
        self._follow_wv(allow_none=False)
        sentences = iter(sentences)
        scores = score_sentences(self, sentences, total_sentences, chunksize)
        if len(scores) == total_sentences and next(sentences, None) is not None:
            logger.warning(
                "score: stopped after total_sentences=%d sentences; raise it to score more",
                total_sentences,
            )
        return scores

    def predict_output_word(self, context_words_list, topn=10):
        """The topn likeliest centre words for the context words (keys or row numbers; unknown
        ones are skipped) as [(word, probability)], best first: the softmax over syn1neg of the
        context vectors' mean (cbow_mean=1) or sum, as gensim does, also for skip-gram models.
        None, with a warning, when no context word is known."""
        if self._vocab is None:
            raise RuntimeError(
                "predict_output_word needs a vocabulary: build_vocab and train first"
            )
        if not self.negative:
            raise RuntimeError(
                "predict_output_word uses negative sampling's output weights (syn1neg), which a "
                "model trained with negative=0 has not learnt (as in gensim)"
            )
        if isinstance(context_words_list, (str, bytes)):
            raise TypeError("context_words_list: expected a list of words, got one string")
        topn = _check_int("topn", topn, 0, allow_none=True)  # None: every word, as gensim
        self._follow_wv(allow_none=False)
        rows = [self.wv.get_index(w) for w in context_words_list if w in self.wv]
        if not rows:
            logger.warning("predict_output_word: none of the context words is in the vocabulary")
            return None
        hidden = self.wv.vectors[rows].sum(axis=0)  # [E]
        if self.cbow_mean:
            hidden /= len(rows)
        scores = (self.syn1neg @ hidden).astype(np.float64)  # [V]
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        best = np.argsort(-probabilities, kind="stable")[:topn]
        return [(self.wv.index_to_key[i], float(probabilities[i])) for i in best]

    # ---- persistence ----

    _PARAMS = (
        "vector_size",
        "alpha",
        "min_alpha",
        "window",
        "min_count",
        "max_vocab_size",
        "sample",
        "seed",
        "workers",
        "sg",
        "negative",
        "hs",
        "ns_exponent",
        "cbow_mean",
        "epochs",
        "shrink_windows",
        "sorted_vocab",
        "max_final_vocab",
        "batch_words",
        "null_word",
        "comment",
        "compute_loss",
        "corpus_count",
        "corpus_total_words",
        "running_training_loss",
        "train_count",
        "effective_words",
        "_epochs_done",
        "effective_min_count",
    )

    def save(self, fname, separately=None, sep_limit=None, ignore=None, pickle_protocol=None):
        """Saves the model to one .npz file (arrays + JSON metadata, no pickle), atomically:
        a temporary file beside `fname` (a path; not an open file, which cannot be replaced
        atomically) replaces it only when completely written.

        gensim's separately, sep_limit, ignore and pickle_protocol shape its pickle files
        (which arrays go to files of their own, which attributes are left out); they are
        accepted for gensim's calls and have no effect (a warning names those given with other
        values than gensim's defaults): the file always holds every array of the model."""
        if not isinstance(fname, (str, os.PathLike)):
            raise TypeError(
                f"fname: expected a path (str or os.PathLike), got {type(fname).__name__}: the "
                "model is written to a temporary file beside it that then replaces it, which an "
                "open file object does not allow; pass the file's path"
            )
        options = {  # (value given, gensim's default)
            "separately": (separately, None),
            "sep_limit": (sep_limit, 10 * 1024**2),
            "ignore": (ignore, frozenset()),
            "pickle_protocol": (pickle_protocol, 4),
        }
        given = [k for k, (v, default) in options.items() if v is not None and v != default]
        if given:
            logger.warning(
                "save: %s ignored: gensim's options for its pickle files; fastrnn saves one .npz "
                "file (no pickle) with every array of the model",
                ", ".join(given),
            )
        check_keys_for_save(self.wv.index_to_key)
        self._follow_wv(allow_none=True)
        self.add_lifecycle_event("saving", fname=str(fname))
        meta = {
            "format": _FORMAT,
            "version": 1,
            "index_to_key": self.wv.index_to_key,
            "params": {k: getattr(self, k) for k in self._PARAMS},
            # (JSON: a value an event's caller gave that JSON has no form for is kept as its str)
            "lifecycle_events": json.loads(json.dumps(self.lifecycle_events, default=str)),
        }
        # the trainer's counts (wv's 'count' vecattr is a copy the user may change)
        counts = self._counts if self._counts is not None else np.zeros(len(self.wv), np.int64)
        arrays = {"vectors": self.wv.vectors, "syn1neg": self.syn1neg, "counts": counts}
        if self._keep is not None and len(self._keep) == len(self.wv):
            arrays["keep"] = self._keep  # after an update, not a function of the counts
        if self.hs:
            arrays["syn1"] = self.syn1
            if self._tree is not None:  # (kept: after wv's rows were reordered, not rebuildable)
                for name, array in zip(_TREE_ARRAYS, self._tree, strict=True):
                    arrays[name] = array
        arrays["vectors_lockf"] = checked_lockf(
            self.wv.vectors_lockf, len(self.wv), "wv.vectors_lockf"
        )
        save_npz(fname, meta, arrays)

    def _check_output_weights(self, allow_none: bool) -> None:
        """Refuses keys without output weights (added by wv.add_vectors); allow_none accepts a
        model without any."""
        name = "syn1neg" if self.negative else "syn1"
        V, rows = len(self.wv), getattr(self, name).shape[0]
        if rows != V and not (allow_none and rows == 0):
            raise ValueError(
                f"wv: holds {V} keys but the model's output weights ({name}) have {rows} rows: "
                "keys added with wv.add_vectors have no output weights, so the model cannot be "
                "saved, trained on or updated; save model.wv instead"
            )

    def _follow_wv(self, allow_none: bool) -> None:
        """_check_output_weights, then, when wv's rows were reordered since the vocabulary was
        made (wv.sort_by_descending_frequency), reorders the output weights, counts, subsampling
        thresholds and the trainer's vocabulary the same way: the trainer's word ids are wv's rows
        (before, they were the old rows, so training updated the wrong words' vectors)."""
        self._check_output_weights(allow_none)
        keys = self.wv.index_to_key
        if self._vocab is None or keys == self._keys:
            return
        old_row = {k: i for i, k in enumerate(self._keys)}
        order = np.array([old_row.get(k, -1) for k in keys], dtype=np.int64)  # [V] old rows
        if (
            len(keys) != len(self._keys)
            or (order < 0).any()
            or len(set(order.tolist())) < len(keys)
        ):
            raise ValueError(
                "wv: its keys are no longer the model's vocabulary (index_to_key was changed in "
                "place: keys renamed, added or removed); the model cannot be trained on, updated "
                "or saved; save model.wv instead"
            )
        if len(self.syn1neg):
            self.syn1neg = self.syn1neg[order]
        tree = _reordered_tree(self._tree, order) if self.hs else None  # syn1's nodes stay
        self._install_vocab(keys, self._counts[order], self._keep[order], tree)
        self._recorded = None  # ids of the old rows

    # The parameters the constructor takes (and checks); the rest of _PARAMS is progress.
    _CONSTRUCTOR_PARAMS = _PARAMS[: _PARAMS.index("compute_loss") + 1]

    @classmethod
    def load(cls, fname, mmap=None) -> Word2Vec:
        """Reads a file written by save(); a malformed or hostile file raises ValueError. mmap
        ('r' or 'c') memory-maps the vectors and output weights as KeyedVectors.load does; a
        model mapped with 'r' cannot be trained."""
        meta, arrays = load_npz(fname, _FORMAT, mmap)
        params = meta.get("params")
        if isinstance(params, dict):  # files saved before these parameters were kept
            params = {
                "sorted_vocab": 1,
                "max_final_vocab": None,
                "effective_min_count": params.get("min_count"),
                "batch_words": MAX_WORDS_IN_BATCH,
                "null_word": 0,
                "comment": None,
                "hs": 0,
                **params,
            }
        if not isinstance(params, dict) or set(params) != set(cls._PARAMS):
            raise ValueError(f"{fname}: expected the parameters {sorted(cls._PARAMS)}")
        try:
            model = cls(**{k: params[k] for k in cls._CONSTRUCTOR_PARAMS}, progress=False)
            for k in cls._PARAMS[len(cls._CONSTRUCTOR_PARAMS) :]:
                check = _check_float if k == "running_training_loss" else _check_int
                setattr(model, k, check(k, params[k], 0))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{fname}: bad model parameter: {e}") from None
        keys, vectors = checked_table(fname, meta, arrays)
        V, E = vectors.shape
        counts, syn1neg, keep = arrays.get("counts"), arrays.get("syn1neg"), arrays.get("keep")
        if E != model.vector_size:
            raise ValueError(
                f"{fname}: vectors have {E} columns, vector_size is {model.vector_size}"
            )
        if counts is None or counts.shape != (V,) or counts.dtype.kind not in "iu":
            raise ValueError(f"{fname}: counts must be an integer array of shape ({V},)")
        if V and counts.min() < 0:
            raise ValueError(f"{fname}: counts must not be negative")
        if syn1neg is None or syn1neg.shape not in ((V, E), (0, E)) or syn1neg.dtype.kind != "f":
            raise ValueError(f"{fname}: syn1neg must be a float array of shape ({V}, {E})")
        if keep is not None and (keep.shape != (V,) or keep.dtype != np.uint32):
            raise ValueError(f"{fname}: keep must be a uint32 array of shape ({V},)")
        counts = counts.astype(np.int64)
        model.wv = KeyedVectors(model.vector_size)
        # the vecattr is the user's to change; the trainer's counts stay apart
        model.wv._set(keys, vectors, counts.copy(), source=str(fname))
        model.syn1neg = np.ascontiguousarray(syn1neg, dtype=np.float32)
        if "vectors_lockf" in arrays:  # (files from before lock factors have none)
            model.wv.vectors_lockf = checked_lockf(arrays["vectors_lockf"], V, f"{fname}: lockf")
        if model.hs:
            model.syn1 = _loaded_syn1(fname, arrays, V, E)
        if len(keys):
            tree = _loaded_tree(fname, arrays, V) if model.hs else None
            keep = None if keep is None else np.ascontiguousarray(keep)
            model._install_vocab(keys, counts, keep, tree)
        events = meta.get("lifecycle_events", [])  # (none in files saved before they were kept)
        if events is not None and not (
            isinstance(events, list) and all(isinstance(e, dict) for e in events)
        ):
            raise ValueError(f"{fname}: lifecycle_events must be a list of dicts or null")
        model.lifecycle_events = events
        model.add_lifecycle_event("loaded", fname=str(fname))
        return model

    def __getstate__(self) -> dict:
        """pickle and copy.deepcopy: the model's attributes without the C++ vocabulary (rebuilt
        from the keys by __setstate__) and without the constructor's recorded corpus (a cache
        that may hold a generator)."""
        state = self.__dict__.copy()
        state["_vocab"] = self._vocab is not None  # (whether to rebuild it)
        state["_recorded"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._vocab = _C.W2vVocab(list(self._keys)) if state["_vocab"] else None

    def __repr__(self) -> str:
        return (
            f"Word2Vec<vocab={len(self.wv)}, vector_size={self.vector_size}, "
            f"alpha={self.alpha}, sg={self.sg}>"
        )


_TREE_ARRAYS = ("hs_code_offsets", "hs_codes", "hs_points")


def _reordered_tree(tree, order: np.ndarray):
    """The Huffman tree (offsets [V+1], codes [n], points [n]) with its words' paths in the new
    row order [V] (new row i is old row order[i]); the inner nodes are unchanged."""
    offsets, codes, points = tree
    lengths = np.diff(offsets)[order]
    new_offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    gather = np.repeat(offsets[:-1][order] - new_offsets[:-1], lengths) + np.arange(
        new_offsets[-1], dtype=np.int64
    )
    return new_offsets, codes[gather], points[gather]


def _path_vecattrs(tree) -> dict:
    """gensim's 'code' and 'point' vecattrs of the Huffman tree (offsets [V+1], codes [n],
    points [n]): [V] object arrays of each word's path, codes as uint8 and points as uint32
    arrays (views of copies: changing them does not change training); the pathless word of a
    one-word vocabulary holds [] in both, as in gensim."""
    offsets, codes, points = tree
    bounds = offsets.tolist()
    pathless = np.flatnonzero(np.diff(offsets) == 0)
    result = {}
    for attr, flat in (("code", codes.copy()), ("point", points.astype(np.uint32))):
        pieces = map(flat.__getitem__, map(slice, bounds[:-1], bounds[1:]))
        result[attr] = np.fromiter(pieces, dtype=object, count=len(bounds) - 1)
        for i in pathless:
            result[attr][i] = []
    return result


def _loaded_syn1(fname, arrays, V: int, E: int) -> np.ndarray:
    syn1 = arrays.get("syn1")
    if syn1 is None or syn1.shape not in ((V, E), (0, E)) or syn1.dtype.kind != "f":
        raise ValueError(f"{fname}: hs=1 needs syn1, a float array of shape ({V}, {E})")
    return np.ascontiguousarray(syn1, dtype=np.float32)


def _loaded_tree(fname, arrays, V: int):
    """The saved Huffman tree, checked (None when the file has none: it is built from the
    counts)."""
    if not all(name in arrays for name in _TREE_ARRAYS):
        return None
    offsets, codes, points = (np.asarray(arrays[name]) for name in _TREE_ARRAYS)

    def problem() -> str | None:
        if offsets.shape != (V + 1,) or offsets.dtype != np.int64:
            return f"hs_code_offsets: expected [{V + 1}] int64, got {offsets.shape} {offsets.dtype}"
        if offsets[0] != 0 or (np.diff(offsets) < 0).any():
            return "hs_code_offsets: expected to start at 0 and never decrease"
        n = int(offsets[-1])
        for name, a, dtype in (("hs_codes", codes, np.uint8), ("hs_points", points, np.int32)):
            if a.shape != (n,) or a.dtype != dtype:
                return f"{name}: expected [{n}] {np.dtype(dtype)}, got {a.shape} {a.dtype}"
        if n and codes.max() > 1:
            return f"hs_codes: expected 0 or 1, got {codes.max()}"
        if n and (points.min() < 0 or points.max() >= max(V - 1, 1)):
            return f"hs_points: expected 0..{max(V - 1, 1) - 1}, got {points.min()}..{points.max()}"
        return None

    if (why := problem()) is not None:
        raise ValueError(f"{fname}: the hierarchical-softmax tree is malformed: {why}")
    return (
        np.ascontiguousarray(offsets),
        np.ascontiguousarray(codes),
        np.ascontiguousarray(points),
    )


def _trainer_device(device: str) -> str:
    """The C++ trainer for a Word2Vec device; raises RuntimeError when "cuda" cannot run here."""
    if device == "cpu":
        return "cpu"
    if not _C.cuda_compiled():
        raise RuntimeError(
            "Word2Vec(device='cuda'): this fastrnn build has no CUDA kernels (built with "
            "FASTRNN_CUDA=OFF or without nvcc)"
        )
    if _C.cuda_device_count() == 0:
        raise RuntimeError(f"Word2Vec(device='cuda'): no CUDA device ({_C.cuda_runtime_info()})")
    return "cuda"


def _call(callbacks, name: str, model) -> None:
    for cb in callbacks:
        fn = getattr(cb, name, None)
        if fn is not None:
            fn(model)


def _stop_and_wait(trainer, done: threading.Event) -> None:
    """Asks the trainer to stop and waits until its run has ended, through further interrupts (a
    second Ctrl-C while the workers finish their job, even one before the request was made)."""
    while True:
        try:
            trainer.request_stop()
            done.wait()
            return
        except KeyboardInterrupt:
            pass


def _run_polling(run, trainer, bar: _Progress) -> None:
    """Runs one epoch in a thread while this one waits, updating the progress bar: an interrupt
    here (Ctrl-C: KeyboardInterrupt) asks the trainer to stop, waits for its workers to finish
    the job they are in (milliseconds), and is re-raised; the epoch's weights are left as far as
    it got. (Run in this thread, the C++ call would hold off Ctrl-C to the end of the epoch.) The
    wait is on an Event, not Thread.join: an interrupted join can leave a running thread marked
    as ended (CPython's _wait_for_tstate_lock releases the lock the thread still holds)."""
    error: list = []
    done = threading.Event()

    def target():
        try:
            run()
        except BaseException as e:  # re-raised in the caller's thread
            error.append(e)
        finally:
            done.set()

    t = threading.Thread(target=target, name="fastrnn-word2vec", daemon=True)
    t.start()
    try:
        while not done.wait(0.2):
            bar.update_to(trainer.words_done)
    except BaseException:
        _stop_and_wait(trainer, done)
        raise
    finally:
        if done.is_set():
            t.join()
    bar.update_to(trainer.words_done)
    if error:
        raise error[0]
