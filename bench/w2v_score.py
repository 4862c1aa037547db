"""Word2Vec.score: fastrnn's (C++, on the model's worker threads) against gensim's, same corpus.

    python bench/w2v_score.py [--tokens 1000000 --vocab 20000 --vector-size 100 --sg 1
                               --workers 1,2 --rounds 7]

Both libraries train a hierarchical-softmax model (hs=1, negative=0: the only scheme either
scores) on the benchmark's Zipfian corpus (fastrnn.bench_w2v.zipf_corpus), so both have the same
vocabulary and the same Huffman tree, the things a score's cost depends on. Then, for each worker
count, each model scores every sentence of the corpus (a list of token lists), the two libraries
alternating, `--rounds` rounds after one untimed call each; the median seconds and sentences per
second are printed as a markdown table, with fastrnn's speedup over gensim. The scores' values
are not compared here (the tests compare them with gensim's on the same weights).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from fastrnn import Word2Vec
from fastrnn.bench import machine_info
from fastrnn.bench_w2v import zipf_corpus
from gensim.models import Word2Vec as GensimWord2Vec


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=1_000_000, help="corpus size in words")
    p.add_argument("--vocab", type=int, default=20_000, help="distinct words drawn from")
    p.add_argument("--vector-size", type=int, default=100)
    p.add_argument("--sg", type=int, choices=(0, 1), default=1, help="1 skip-gram, 0 CBOW")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts to measure")
    p.add_argument("--rounds", type=int, default=7, help="timed calls of each library")
    return p.parse_args(argv)


def train(model_class, corpus, args):
    """A model of `model_class` trained one epoch on `corpus` with hs=1, negative=0."""
    return model_class(
        corpus, vector_size=args.vector_size, sg=args.sg, hs=1, negative=0, min_count=5,
        epochs=1, workers=2, seed=1,
    )  # fmt: skip


def main(argv=None) -> None:
    args = parse_args(argv)
    corpus = zipf_corpus(args.tokens, args.vocab, seed=0)
    models = {
        "fastrnn": train(Word2Vec, corpus, args),
        "gensim": train(GensimWord2Vec, corpus, args),
    }
    print(
        f"score of {len(corpus):,} sentences ({args.tokens:,} words over {args.vocab:,}; "
        f"vocabulary {len(models['fastrnn'].wv):,}), sg={args.sg}, hs=1, "
        f"vector_size={args.vector_size}, median of {args.rounds}; {machine_info()['model']}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("| workers | fastrnn s | gensim s | fastrnn sentences/s | speedup |")
    print("|---:|---:|---:|---:|---:|")
    for workers in (int(w) for w in args.workers.split(",")):
        times = {name: [] for name in models}
        for model in models.values():
            model.workers = workers
            model.score(corpus, total_sentences=len(corpus))  # untimed
        for r in range(args.rounds):
            for name in list(models) if r % 2 == 0 else list(reversed(models)):
                start = time.perf_counter()
                models[name].score(corpus, total_sentences=len(corpus))
                times[name].append(time.perf_counter() - start)
        ours, theirs = (statistics.median(times[name]) for name in models)
        print(
            f"| {workers} | {ours:.3f} | {theirs:.3f} | {len(corpus) / ours:,.0f} "
            f"| {theirs / ours:.2f}x |"
        )


if __name__ == "__main__":
    main()
