"""Word vectors, then a sentence classifier on top of them.

    python examples/word2vec_embeddings.py            # about 30 s
    python examples/word2vec_embeddings.py --quick    # fewer epochs and steps (~10 s)

Data (nothing is downloaded): two sources of English text, tinyshakespeare.txt (../shared/data
beside the repository, or --shakespeare PATH) and the Lee news corpus that gensim ships as test
data (lee_background.cor). Both are cut into sentences and tokenized by one fastrnn.text
tokenizer (lower-cased, numbers replaced by [NUM]); speaker names are left out of Shakespeare.

1. fastrnn.Word2Vec (skip-gram, negative sampling) learns word vectors from every sentence except
   the classifier's test sentences. The example prints nearest neighbours of a few words and the
   analogy score on gensim's questions-words.txt (KeyedVectors.evaluate_word_analogies; a small
   corpus covers few questions and answers few of them, so expect a low score).
2. The labelled task, chosen because it can be built from these files alone: which source does a
   sentence come from (Shakespeare or news)? Sentences of 5 to 40 tokens, only a few labelled
   ones for training (--train-per-class, 100) and more for testing (--test-per-class, 500), so
   many test words never occur in a labelled sentence: that is where pretrained vectors help.
   The classifier's vocabulary is the word2vec vocabulary. The model is Embedding ->
   bidirectional LSTM (final states of both directions, each sentence with its own length) ->
   Linear -> softmax cross-entropy, trained with Adam. It runs three times from the same seed
   with different embeddings: the word2vec vectors frozen, the word2vec vectors trainable (sparse
   row gradients, lazy Adam), and, for reference, random vectors of the same scale, trainable.

Prints neighbours, the analogy score and the three test accuracies, saves a plot under --out and
ends with a line `RESULT {json}` for scripts.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import fastrnn
import numpy as np
from _cli import (
    fail,
    nonnegative_int,
    output_dir,
    plot_file,
    positive_float,
    positive_int,
    require,
    run,
    thread_count,
)
from _figure import save_figure
from fastrnn import nn, optim
from fastrnn.text import Vocabulary

DEFAULT_SHAKESPEARE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tinyshakespeare.txt"
)
PROBES = ("king", "love", "death", "government", "police", "water")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SPEAKER = re.compile(r"^[A-Z][A-Za-z ]*:$")  # "First Citizen:" lines in tinyshakespeare


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer word2vec epochs and steps")
    p.add_argument("--out", type=output_dir, default="examples_out", help="directory for the plot")
    p.add_argument("--shakespeare", type=Path, default=DEFAULT_SHAKESPEARE)
    p.add_argument(
        "--vector-size", type=positive_int, help="word vector size E (default 100, quick 50)"
    )
    p.add_argument("--w2v-epochs", type=positive_int, help="word2vec epochs (default 10, quick 3)")
    p.add_argument(
        "--steps", type=positive_int, help="classifier steps per run (default 300, quick 100)"
    )
    p.add_argument(
        "--train-per-class", type=positive_int, default=100, help="labelled training sentences"
    )
    p.add_argument(
        "--test-per-class", type=positive_int, default=500, help="test sentences per class"
    )
    p.add_argument("--hidden", type=positive_int, default=32, help="LSTM units per direction")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=3e-3, help="Adam learning rate")
    p.add_argument(
        "--workers",
        type=thread_count,
        help="word2vec worker threads (default: --threads if given, else 2; one worker is "
        "reproducible with a seed, more are not)",
    )
    p.add_argument(
        "--threads", type=thread_count, help="fastrnn threads for the LSTM (default: all)"
    )
    p.add_argument("--seed", type=nonnegative_int, default=0)
    args = p.parse_args(argv)
    args.plot = plot_file(p, args.out, "word2vec_embeddings.png")
    require(p, "gensim", "for its news corpus (gensim's test data)")
    if args.workers is None:
        args.workers = args.threads or 2
    for name, full, small in (
        ("vector_size", 100, 50),
        ("w2v_epochs", 10, 3),
        ("steps", 300, 100),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if args.quick else full)
    if args.batch_size > 2 * args.train_per_class:
        p.error(
            f"argument --batch-size: expected at most 2 × --train-per-class = "
            f"{2 * args.train_per_class} (a batch draws distinct training sentences), got "
            f"{args.batch_size}"
        )
    return args


def split_sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s.strip()]


def load_sources(shakespeare: Path) -> dict[str, list[str]]:
    """Sentences of each source: {"shakespeare": [...], "news": [...]}."""
    from gensim.test.utils import datapath  # (parse_args checked that gensim is installed)

    if not shakespeare.is_file():
        fail(
            f"--shakespeare: no such file: {shakespeare} "
            "(give tinyshakespeare.txt or any English text: --shakespeare FILE)"
        )
    try:
        text = shakespeare.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"--shakespeare: cannot read {shakespeare} as UTF-8 text ({e})")
    speeches, lines = [], []
    for line in text.splitlines():
        if SPEAKER.match(line.strip()) or not line.strip():
            speeches.append(" ".join(lines))
            lines = []
        else:
            lines.append(line.strip())
    speeches.append(" ".join(lines))
    news = Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
    return {
        "shakespeare": [s for speech in speeches for s in split_sentences(speech)],
        "news": [s for doc in news for s in split_sentences(doc)],
    }


def make_task(sources, tokenizer: Vocabulary, args, rng):
    """Balanced labelled train and test sentences, and the word2vec corpus (token lists of every
    sentence that is not a test sentence). Sentences are told apart by their tokens: each text is
    used once (a repeated line, "Exeunt." say, is one candidate), texts found in both sources are
    left out, and the corpus leaves out every copy of a test sentence's text."""
    tokens = [[tuple(tokenizer.tokenize(s)) for s in sentences] for sentences in sources.values()]
    in_both = set.intersection(*(set(t) for t in tokens)) if len(tokens) > 1 else set()
    fits = []
    for source_tokens in tokens:
        first = {}  # text -> index of its first sentence
        for i, t in enumerate(source_tokens):
            if 5 <= len(t) <= 40 and t not in in_both:
                first.setdefault(t, i)
        fits.append(sorted(first.values()))
    n_train, n_test = args.train_per_class, args.test_per_class
    if any(len(fit) < n_train + n_test for fit in fits):
        fail(
            f"a source has fewer than --train-per-class + --test-per-class = {n_train + n_test} "
            "distinct sentences of 5 to 40 tokens"
        )
    train, test, test_texts = [], [], set()
    for label, (sentences, fit) in enumerate(zip(sources.values(), fits, strict=True)):
        chosen = rng.choice(fit, size=n_train + n_test, replace=False)
        train += [(sentences[i], label) for i in chosen[:n_train]]
        test += [(sentences[i], label) for i in chosen[n_train:]]
        test_texts |= {tokens[label][i] for i in chosen[n_train:]}
    corpus = [list(t) for source_tokens in tokens for t in source_tokens if t not in test_texts]
    return train, test, corpus


def pretrained_matrix(vocab: Vocabulary, wv, E: int, rng) -> tuple[np.ndarray, int]:
    """[V, E]: unit-length word2vec vectors; random rows of the same scale for the tokens the
    vectors lack; zeros for [PAD]. Returns it and how many tokens had a vector."""
    weight = (rng.standard_normal((len(vocab), E)) / np.sqrt(E)).astype(np.float32)
    normed = wv.get_normed_vectors()
    found = 0
    for i, token in enumerate(vocab.itos):
        if token in wv.key_to_index:
            weight[i] = normed[wv.key_to_index[token]]
            found += 1
    weight[vocab.pad_id] = 0
    return weight, found


class SentenceClassifier:
    """Embedding -> bidirectional LSTM (final states) -> Linear over 2 classes."""

    def __init__(self, embedding: nn.Embedding, hidden: int, seed: int):
        E = embedding.embedding_dim
        self.embedding = embedding
        self.rnn = nn.Recurrent(fastrnn.LSTM(E, hidden, bidirectional=True, seed=seed), "last")
        self.head = nn.Linear(2 * hidden, 2, seed=seed)
        self.modules = [self.embedding, self.rnn, self.head]

    def forward(self, ids, lengths, training: bool = True):
        """ids: [T, N] int; lengths: [N] -> logits [N, 2]."""
        x = self.embedding.forward(ids)  # [T, N, E]
        return self.head.forward(self.rnn.forward(x, training, lengths=lengths))

    def backward(self, dlogits) -> None:
        """dlogits: [N, 2], the loss gradient of forward's logits; accumulates every grads."""
        self.embedding.backward(self.rnn.backward(self.head.backward(dlogits)))


def train_classifier(embedding, train, test, vocab, args):
    """Trains one classifier; returns (test accuracy, training losses)."""
    rng = np.random.default_rng(args.seed)
    model = SentenceClassifier(embedding, args.hidden, args.seed)
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = optim.Adam(model.modules, lr=args.lr)
    losses = []
    for _ in range(args.steps):
        batch = [train[i] for i in rng.choice(len(train), args.batch_size, replace=False)]
        ids, lengths = vocab.encode_batch([s for s, _ in batch], max_length=40)
        labels = np.array([y for _, y in batch])
        for m in model.modules:
            m.zero_grad()
        losses.append(loss_fn.forward(model.forward(ids, lengths), labels))
        model.backward(loss_fn.backward())
        optim.clip_grad_norm(model.modules, 5.0)
        opt.step()
    hits = 0
    for i in range(0, len(test), 256):
        chunk = test[i : i + 256]
        ids, lengths = vocab.encode_batch([s for s, _ in chunk], max_length=40)
        logits = model.forward(ids, lengths, training=False)
        hits += int((logits.argmax(axis=1) == np.array([y for _, y in chunk])).sum())
    return hits / len(test), losses


def plot(losses: dict, accuracy: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, curve in losses.items():
        smooth = np.convolve(curve, np.ones(10) / 10, mode="valid")
        ax1.plot(np.arange(len(smooth)) + 10, smooth, label=name)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (nats, 10-step mean)")
    ax1.legend()
    names = list(accuracy)
    ax2.bar(
        [n.replace(" ", "\n") for n in names],
        [accuracy[n] for n in names],
        color=["C0", "C1", "C2"],
    )
    ax2.set_ylim(0.5, 1.0)
    ax2.set_ylabel("test accuracy")
    for i, n in enumerate(names):
        ax2.text(i, accuracy[n] + 0.005, f"{accuracy[n]:.3f}", ha="center")
    fig.suptitle("Shakespeare or news? BiLSTM on word2vec embeddings")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    tokenizer = Vocabulary(replace_numbers=True)  # its tokenize() only: lower-case, [NUM]
    sources = load_sources(args.shakespeare)
    from gensim.test.utils import datapath

    train, test, corpus = make_task(sources, tokenizer, args, rng)
    print(
        f"sentences: {', '.join(f'{k} {len(v)}' for k, v in sources.items())}; classifier "
        f"{len(train)} train / {len(test)} test; word2vec corpus {sum(map(len, corpus))} tokens"
    )

    w2v = fastrnn.Word2Vec(
        corpus,
        vector_size=args.vector_size,
        window=5,
        min_count=3,
        sg=1,
        negative=5,
        epochs=args.w2v_epochs,
        workers=args.workers,
        seed=args.seed + 1,
    )
    wv = w2v.wv
    print(f"word2vec: {len(wv.index_to_key)} words, E={args.vector_size}")
    neighbours = {}
    for word in PROBES:
        if word in wv.key_to_index:
            neighbours[word] = [w for w, _ in wv.most_similar(word, topn=5)]
            print(f"  {word:>10}: {', '.join(neighbours[word])}")
    analogy, sections = wv.evaluate_word_analogies(datapath("questions-words.txt"))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    answered = len(total["correct"]) + len(total["incorrect"])
    print(f"analogies: {analogy:.3f} of the {answered} questions whose words the corpus has")

    # The classifier knows every word that has a vector, so test sentences' words that the few
    # labelled sentences never show still get their word2vec vectors.
    vocab = Vocabulary(
        [w for w in wv.index_to_key if w not in tokenizer.specials], replace_numbers=True
    )
    weight, found = pretrained_matrix(vocab, wv, args.vector_size, rng)
    print(f"classifier vocabulary {len(vocab)}; {found} tokens have a word2vec vector")
    random_weight = (rng.standard_normal(weight.shape) / np.sqrt(args.vector_size)).astype(
        np.float32
    )
    runs = {
        "word2vec frozen": nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=0),
        "word2vec trainable": nn.Embedding.from_pretrained(weight, freeze=False, padding_idx=0),
        "random trainable": nn.Embedding.from_pretrained(
            random_weight, freeze=False, padding_idx=0
        ),
    }
    accuracy, losses = {}, {}
    for name, embedding in runs.items():
        accuracy[name], losses[name] = train_classifier(embedding, train, test, vocab, args)
        print(f"  {name:>18}: test accuracy {accuracy[name]:.3f}", flush=True)
    seconds = time.perf_counter() - start

    plot_path = args.plot
    plot(losses, accuracy, plot_path)
    print(f"done in {seconds:.1f} s; plot: {plot_path}")
    result = {
        "analogy_score": analogy,
        "analogy_questions": answered,
        "neighbours": neighbours,
        "vocabulary": len(wv.index_to_key),
        "accuracy": {
            "frozen": accuracy["word2vec frozen"],
            "trainable": accuracy["word2vec trainable"],
            "random": accuracy["random trainable"],
        },
        "test_size": len(test),
        "seconds": round(seconds, 2),
        "plot": str(plot_path),
    }
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    run(main)
