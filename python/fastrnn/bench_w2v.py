"""The word2vec benchmarks: speed beside gensim on a synthetic Zipfian corpus, and quality beside
gensim on real text (analogy accuracy, WordSim-353 Spearman), for the `fastrnn-bench` CLI.

Speed (issue 6's setting): 3M tokens, V = 50,000, vector_size 100, window 5, negative 5,
sample 1e-3, one epoch, the same worker count for both. Each timed run is a whole
`Word2Vec(sentences, ...)` construction (vocabulary build included); the two libraries alternate
and each row reports the median of `repeats` runs after a warm-up. gensim is optional: without
it the rows carry fastrnn's numbers and a note.

    rows = run_w2v_benchmark()                         # the issue's sizes
    rows = run_w2v_benchmark(**QUICK_KWARGS)           # ~20 s, for the quick suite
    print(format_w2v_rows(rows))
"""

from __future__ import annotations

import collections
import itertools
import operator
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "QUICK_KWARGS",
    "corpus_bytes",
    "format_quality_rows",
    "format_w2v_rows",
    "print_w2v_report",
    "quality_corpus",
    "run_w2v_benchmark",
    "run_w2v_quality",
    "zipf_corpus",
]

# Sizes for the CLI's quick suite: both models, both libraries, about 20 s on 2 cores.
QUICK_KWARGS = {"tokens": 1_000_000, "vocab": 20_000, "repeats": 2}

# Both libraries' min_count in the timed runs (gensim's default).
MIN_COUNT = 5


def zipf_corpus(
    tokens: int = 3_000_000,
    vocab: int = 50_000,
    seed: int = 0,
    exponent: float = 1.0,
    sentence_length: tuple[int, int] = (5, 40),
) -> list[list[str]]:
    """A synthetic corpus: `tokens` words drawn i.i.d. with P(rank r) ∝ r^-exponent over `vocab`
    words named 'w0', 'w1', ... (one str object per word, shared), cut into sentences of
    uniform length in [sentence_length[0], sentence_length[1])."""
    if tokens < 1 or vocab < 1:
        raise ValueError(f"tokens and vocab must be positive, got {tokens}, {vocab}")
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1, dtype=np.float64) ** exponent
    ids = rng.choice(vocab, size=tokens, p=p / p.sum())
    words = [f"w{i}" for i in range(vocab)]
    lo, hi = sentence_length
    lengths = rng.integers(lo, hi, size=tokens // lo + 1)
    ends = np.cumsum(lengths)
    ends = np.append(ends[ends < tokens], tokens)
    id_list = ids.tolist()
    out, start = [], 0
    for end in ends.tolist():
        out.append([words[i] for i in id_list[start:end]])
        start = end
    return out


def corpus_bytes(tokens: int, vocab: int) -> int:
    """A lower bound of the bytes zipf_corpus(tokens, vocab) holds while it builds the corpus:
    per token its id in a numpy array and in a Python list and its slot in a sentence list (8
    bytes each); per word two float64 probabilities and its name, a str of at least 50 bytes."""
    return 24 * tokens + 66 * vocab


def _gensim():
    try:
        from gensim.models import Word2Vec as GensimWord2Vec
    except ImportError:
        return None
    return GensimWord2Vec


def _time_build(cls, corpus, params: dict) -> float:
    """Seconds to construct a trained model; `corpus` is a token-list corpus or a file path."""
    t = time.perf_counter()
    if isinstance(corpus, str):
        cls(corpus_file=corpus, **params)
    else:
        cls(corpus, **params)
    return time.perf_counter() - t


def _write_corpus(path: Path, corpus: list[list[str]]) -> str:
    with open(path, "w", encoding="utf8") as f:
        for s in corpus:
            f.write(" ".join(s) + "\n")
    return str(path)


def run_w2v_benchmark(
    tokens: int = 3_000_000,
    vocab: int = 50_000,
    sg=(1, 0),
    workers: int = 2,
    compare_gensim: bool = True,
    seed: int = 0,
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
    vector_size: int = 100,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    epochs: int = 1,
    sentence_length: tuple[int, int] = (5, 40),
    corpus_file: bool = False,
    warmups: int = 1,
    hs: int = 0,
) -> list[dict]:
    """Words per second of fastrnn and gensim (alternating, median of `repeats`), one row per
    model (sg=1 skip-gram, sg=0 CBOW), on zipf_corpus(tokens, vocab, seed, sentence_length=...).
    Returns rows with keys: model, sg, tokens, vocab, sentence_length, workers, repeats, warmups,
    fastrnn_words_per_s, gensim_words_per_s (None without gensim), speedup (None without
    gensim), fastrnn_s, gensim_s (median seconds), input, note. With corpus_file=True both
    libraries read the corpus from a temporary text file (`corpus_file=`) instead of lists. Before
    the timed runs each library builds `warmups` untimed models on a hundredth of the corpus.
    hs=1 trains hierarchical softmax (with `negative` negatives too unless negative=0); the model
    names say so ("skip-gram hs", "skip-gram hs + negative")."""
    try:
        count = -1 if isinstance(warmups, bool) else operator.index(warmups)
    except TypeError:
        count = -1
    if count < 0:
        raise ValueError(f"warmups: expected an int >= 0, got {warmups!r}")
    warmups = count
    from fastrnn.word2vec import Word2Vec

    say = progress or (lambda msg: None)
    sgs = [sg] if isinstance(sg, int) else list(sg)
    GensimWord2Vec = _gensim() if compare_gensim else None
    note = ""
    if compare_gensim and GensimWord2Vec is None:
        note = "gensim not installed: comparison skipped"
    elif not compare_gensim:
        note = "comparison not requested"
    say(f"generating a Zipfian corpus: {tokens} tokens over {vocab} words")
    corpus = zipf_corpus(tokens, vocab, seed=seed, sentence_length=sentence_length)
    most = max(collections.Counter(itertools.chain.from_iterable(corpus)).values())
    if most < MIN_COUNT:
        raise ValueError(
            f"tokens: {tokens} words give an empty vocabulary: the most frequent word of the "
            f"generated corpus occurs {most} times, fewer than the min_count={MIN_COUNT} both "
            "libraries train with; use more tokens"
        )
    warm = corpus[: max(1, len(corpus) // 100)]
    with tempfile.TemporaryDirectory() as tmp:
        if corpus_file:
            corpus = _write_corpus(Path(tmp) / "corpus.txt", corpus)
            warm = _write_corpus(Path(tmp) / "warm.txt", warm)
        info = dict(
            tokens=tokens,
            vocab=vocab,
            sentence_length=list(sentence_length),
            workers=workers,
            repeats=repeats,
            warmups=warmups,
            input="corpus_file" if corpus_file else "sentences",
            note=note,
        )
        base_params = dict(
            vector_size=vector_size,
            window=window,
            hs=hs,
            negative=negative,
            sample=sample,
            epochs=epochs,
            workers=workers,
            min_count=MIN_COUNT,
            seed=seed + 1,
        )
        rows = _run(
            Word2Vec, GensimWord2Vec, corpus, warm, sgs, repeats, warmups, say, info, base_params
        )
    return rows


def _model_name(sg: int, hs: int, negative: int) -> str:
    name = "skip-gram" if sg else "CBOW"
    if hs:
        name += " hs + negative" if negative else " hs"
    return name


def _run(Word2Vec, GensimWord2Vec, corpus, warm, sgs, repeats, warmups, say, info, base_params):
    """The alternating timed runs of run_w2v_benchmark, one row per model."""
    rows = []
    for s in sgs:
        params = dict(base_params, sg=s)
        model = _model_name(s, params["hs"], params["negative"])
        warm_params = dict(params, min_count=1)
        for _ in range(warmups):
            _time_build(Word2Vec, warm, warm_params)
            if GensimWord2Vec is not None:
                _time_build(GensimWord2Vec, warm, warm_params)
        ours, theirs = [], []
        for r in range(repeats):
            order = [("fastrnn", Word2Vec), ("gensim", GensimWord2Vec)]
            if r % 2:
                order.reverse()
            for name, cls in order:
                if cls is None:
                    continue
                dt = _time_build(cls, corpus, params)
                (ours if name == "fastrnn" else theirs).append(dt)
                say(f"{model} run {r + 1}/{repeats}: {name} {dt:.2f} s "
                    f"({info['tokens'] / dt:,.0f} words/s)")  # fmt: skip
        ours_s = statistics.median(ours)
        theirs_s = statistics.median(theirs) if theirs else None
        rows.append(
            {
                "model": model,
                "sg": s,
                **info,
                "fastrnn_s": ours_s,
                "gensim_s": theirs_s,
                "fastrnn_words_per_s": info["tokens"] / ours_s,
                "gensim_words_per_s": info["tokens"] / theirs_s if theirs_s else None,
                "speedup": theirs_s / ours_s if theirs_s else None,
            }
        )
    return rows


def format_w2v_rows(rows: list[dict]) -> str:
    """A markdown table of run_w2v_benchmark's rows."""
    lines = [
        "| model | input | tokens | V | sentence words | workers | fastrnn words/s | "
        "gensim words/s | speedup |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        g = f"{r['gensim_words_per_s']:,.0f}" if r["gensim_words_per_s"] else "–"
        sp = f"{r['speedup']:.2f}×" if r["speedup"] else "–"
        lo, hi = r.get("sentence_length", (5, 40))
        lines.append(
            f"| {r['model']} | {r.get('input', 'sentences')} | {r['tokens']:,} | {r['vocab']:,} | "
            f"{lo}–{hi - 1} | {r['workers']} | "
            f"{r['fastrnn_words_per_s']:,.0f} | {g} | {sp} |"
        )
    notes = sorted({r["note"] for r in rows if r.get("note")})
    return "\n".join(lines + [f"\n{n}" for n in notes])


def print_w2v_report(rows: list[dict], quality_rows: list[dict] | None = None, file=None) -> None:
    """Prints the speed table (and the quality table when given) with the machine's CPU, as the
    CLI shows them."""
    out = file or sys.stdout
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"word2vec on {cpu}, {os.cpu_count()} logical CPUs", file=out)
    print(format_w2v_rows(rows), file=out)
    if quality_rows:
        print(file=out)
        print(format_quality_rows(quality_rows), file=out)


# ---- quality ----

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def quality_corpus(shared_data: Path | None = None) -> list[list[str]]:
    """The real-text corpus of the quality comparison: gensim's test corpora lee_background.cor
    and head500.noblanks.cor, plus tinyshakespeare.txt when `shared_data` holds it; lowercased,
    alphabetic tokens, one sentence per line."""
    from gensim.test.utils import datapath

    files = [Path(datapath("lee_background.cor")), Path(datapath("head500.noblanks.cor"))]
    if shared_data is not None and (Path(shared_data) / "tinyshakespeare.txt").exists():
        files.append(Path(shared_data) / "tinyshakespeare.txt")
    out = []
    for f in files:
        for line in f.read_text(encoding="utf8", errors="replace").splitlines():
            tokens = _TOKEN.findall(line.lower())
            if tokens:
                out.append(tokens)
    return out


def run_w2v_quality(
    seeds=(1, 2, 3),
    sg=(1, 0),
    epochs: int = 10,
    workers: int = 2,
    shared_data: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Analogy accuracy (questions-words.txt) and WordSim-353 Spearman of fastrnn and gensim
    trained with the same settings (gensim's defaults but `epochs`) on quality_corpus(), mean over
    `seeds`. Needs gensim. Rows: model, metric, fastrnn, gensim, difference, per-seed lists."""
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.test.utils import datapath

    from fastrnn.word2vec import Word2Vec

    say = progress or (lambda msg: None)
    corpus = quality_corpus(shared_data)
    n_tokens = sum(map(len, corpus))
    say(f"quality corpus: {len(corpus)} sentences, {n_tokens} tokens")
    rows = []
    for s in [sg] if isinstance(sg, int) else list(sg):
        scores: dict = {("fastrnn", m): [] for m in ("analogy", "wordsim")}
        scores.update({("gensim", m): [] for m in ("analogy", "wordsim")})
        for seed in seeds:
            for name, cls in (("fastrnn", Word2Vec), ("gensim", GensimWord2Vec)):
                t = time.perf_counter()
                model = cls(corpus, sg=s, epochs=epochs, workers=workers, seed=seed)
                dt = time.perf_counter() - t
                analogy = model.wv.evaluate_word_analogies(datapath("questions-words.txt"))[0]
                spearman = model.wv.evaluate_word_pairs(datapath("wordsim353.tsv"))[1][0]
                scores[(name, "analogy")].append(float(analogy))
                scores[(name, "wordsim")].append(float(spearman))
                say(f"{'skip-gram' if s else 'CBOW'} seed {seed} {name}: analogy {analogy:.4f} "
                    f"wordsim {spearman:.4f} ({dt:.1f} s)")  # fmt: skip
        for metric in ("analogy", "wordsim"):
            ours, theirs = scores[("fastrnn", metric)], scores[("gensim", metric)]
            rows.append(
                {
                    "model": "skip-gram" if s else "CBOW",
                    "metric": metric,
                    "fastrnn": float(np.mean(ours)),
                    "gensim": float(np.mean(theirs)),
                    "difference": float(np.mean(ours) - np.mean(theirs)),
                    "fastrnn_per_seed": ours,
                    "gensim_per_seed": theirs,
                    "tokens": n_tokens,
                    "epochs": epochs,
                }
            )
    return rows


def format_quality_rows(rows: list[dict]) -> str:
    """A markdown table of run_w2v_quality's rows."""
    names = {"analogy": "analogy accuracy", "wordsim": "WordSim-353 Spearman"}
    lines = [
        "| model | metric | fastrnn (mean) | gensim (mean) | difference | fastrnn per seed | "
        "gensim per seed |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        per = lambda xs: ", ".join(f"{x:.4f}" for x in xs)  # noqa: E731
        lines.append(
            f"| {r['model']} | {names[r['metric']]} | {r['fastrnn']:.4f} | {r['gensim']:.4f} | "
            f"{r['difference']:+.4f} | {per(r['fastrnn_per_seed'])} | {per(r['gensim_per_seed'])} |"
        )
    return "\n".join(lines)
