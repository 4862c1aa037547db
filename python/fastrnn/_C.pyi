# Type stub of the C++ extension fastrnn._C (private: use the fastrnn package). Generated from a
# CUDA build by pybind11-stubgen (`pybind11-stubgen fastrnn._C -o DIR`), then formatted with ruff;
# tests/test_stub.py checks that it names what the extension defines.
# ruff: noqa: E501 (the docstrings are the extension's, one line each)
"""
fastrnn's C++ core (private: use the fastrnn package)
"""

from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing

__all__: list[str] = [
    "CoreError",
    "RnnDesc",
    "W2V_STR_KEYS_ADVICE",
    "W2vIdCorpusBuilder",
    "W2vTrainer",
    "W2vVocab",
    "W2vVocabCounter",
    "blas_version",
    "compiler",
    "cuda_compiled",
    "cuda_cublas_path",
    "cuda_device_count",
    "cuda_load_cublas",
    "cuda_rnn_backward",
    "cuda_rnn_forward",
    "cuda_runtime_info",
    "default_num_threads",
    "get_num_threads",
    "gpu_rnn_backward_workspace_size",
    "gpu_rnn_forward_workspace_size",
    "linear_backward",
    "linear_forward",
    "openmp_runtime",
    "rnn_backward",
    "rnn_forward",
    "rnn_reserve_size",
    "rnn_step",
    "set_num_threads",
    "simd_level",
    "softmax_xent_backward",
    "softmax_xent_forward",
    "use_openmp_runtime",
    "version",
    "w2v_file_pieces",
    "w2v_huffman",
    "w2v_max_sentence",
    "w2v_negative_probabilities",
    "w2v_score",
    "w2v_subsample_thresholds",
]

class CoreError(ValueError):
    pass

class RnnDesc:
    def __getstate__(self) -> tuple[str, int, int, int, bool, bool, bool, float]: ...
    def __init__(
        self,
        mode: str,
        input_size: typing.SupportsInt | typing.SupportsIndex,
        hidden_size: typing.SupportsInt | typing.SupportsIndex,
        proj_size: typing.SupportsInt | typing.SupportsIndex = 0,
        bias: bool = True,
        reset_after: bool = True,
        peephole: bool = False,
        cell_clip: typing.SupportsFloat | typing.SupportsIndex = 0.0,
    ) -> None: ...
    def __setstate__(self, arg0: tuple) -> None: ...
    @property
    def bias(self) -> bool: ...
    @property
    def cell_clip(self) -> float: ...
    @property
    def gates(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def input_size(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def peephole(self) -> bool: ...
    @property
    def proj_size(self) -> int: ...
    @property
    def reset_after(self) -> bool: ...
    @property
    def state_size(self) -> int: ...

W2V_STR_KEYS_ADVICE: str  # what to do about corpus tokens that are not str

class W2vVocabCounter:
    recording: bool
    def __init__(self, max_vocab_size: typing.SupportsInt | typing.SupportsIndex = 0) -> None: ...
    def add_sentences(self, sentences: typing.Any, name: str = "sentences") -> None:
        """
        Counts the tokens of an iterable of token lists (errors name it `name`).
        """
    def add_text(self, chunk: bytes) -> None:
        """
        Counts a chunk of UTF-8 text (lines may span chunks).
        """
    def count_file(self, path: str) -> None: ...
    def finish_text(self) -> None: ...
    def recorded(self) -> typing.Any:
        """
        The recorded corpus as (index numbers [W] int32, offsets [S+1] int64), or None.
        """
    def result(self) -> tuple[list, numpy.typing.NDArray[numpy.int64]]:
        """
        (words in first-seen order, their counts [V])
        """
    @property
    def min_reduce(self) -> int: ...
    @property
    def sentences(self) -> int: ...
    @property
    def total_words(self) -> int: ...

class W2vVocab:
    def __init__(self, words: list) -> None: ...
    def __len__(self) -> int: ...
    def count_file_words(
        self, path: str, workers: typing.SupportsInt | typing.SupportsIndex
    ) -> int: ...
    def encode_sentences(self, sentences: typing.Any, name: str = "sentences") -> tuple:
        """
        An iterable of token lists as (ids [W] int32, offsets [S+1] int64, raw_words, raw_sentences); unknown words are dropped, sentences over 10,000 words split (errors name it `name`).
        """
    def find(self, arg0: str) -> int: ...

class W2vIdCorpusBuilder:
    def __init__(self, vocab: W2vVocab) -> None: ...
    def add_text(self, chunk: bytes) -> None: ...
    def result(self) -> tuple: ...

class W2vTrainer:
    def __init__(
        self,
        syn0: typing.Any,
        syn1neg: typing.Any,
        counts: typing.Any,
        keep: typing.Any,
        sg: bool,
        window: typing.SupportsInt | typing.SupportsIndex,
        negative: typing.SupportsInt | typing.SupportsIndex,
        ns_exponent: typing.SupportsFloat | typing.SupportsIndex,
        cbow_mean: bool,
        shrink_windows: bool,
        compute_loss: bool,
        alpha: typing.SupportsFloat | typing.SupportsIndex,
        min_alpha: typing.SupportsFloat | typing.SupportsIndex,
        workers: typing.SupportsInt | typing.SupportsIndex,
        seed: typing.SupportsInt | typing.SupportsIndex,
        device: str = "cpu",
        lockf: typing.Any = None,
        batch_words: typing.SupportsInt | typing.SupportsIndex = 10000,
        hs: bool = False,
        syn1: typing.Any = None,
        code_offsets: typing.Any = None,
        codes: typing.Any = None,
        points: typing.Any = None,
    ) -> None: ...
    def request_stop(self) -> None:
        """
        Asks a train_* call running in another thread to end early: the CPU workers finish their current job and take no other (until the next start()).
        """
    def start(self, total_words: typing.SupportsInt | typing.SupportsIndex) -> None:
        """
        Resets the progress, the loss and a stop request for a run of total_words (all epochs).
        """
    def train_file(
        self, vocab: W2vVocab, path: str, epoch: typing.SupportsInt | typing.SupportsIndex
    ) -> None:
        """
        Trains one epoch over a plain text file by per-thread pieces (GIL released).
        """
    def train_ids(
        self, ids: typing.Any, offsets: typing.Any, epoch: typing.SupportsInt | typing.SupportsIndex
    ) -> None:
        """
        Trains one epoch over an id corpus (GIL released).
        """
    @property
    def alpha(self) -> float:
        """
        The learning rate at progress 0 (read by each train_* call).
        """
    @alpha.setter
    def alpha(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None: ...
    @property
    def file_tokens(self) -> int: ...
    @property
    def launch_words(self) -> int:
        """
        Device 'cuda' or 'emulated': the most kept words one kernel launch trains (whole sentence pieces, at least one a launch).
        """
    @launch_words.setter
    def launch_words(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None: ...
    @property
    def launches(self) -> list:
        """
        Device 'cuda' or 'emulated': the kernel launches of the last train_ids call, each (pieces, kept words, learning rate of its first piece, of its last).
        """
    @property
    def loss(self) -> float: ...
    @property
    def min_alpha(self) -> float:
        """
        The learning rate at progress 1 (read by each train_* call).
        """
    @min_alpha.setter
    def min_alpha(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None: ...
    @property
    def trained_words(self) -> int: ...
    @property
    def words_done(self) -> int: ...

def _emulated_rnn_backward(
    desc: RnnDesc,
    dy: numpy.ndarray,
    dh_n: typing.Any,
    dc_n: typing.Any,
    x: numpy.ndarray,
    lengths: typing.Any,
    weight_ih: typing.Any,
    weight_hh: typing.Any,
    bias_ih: typing.Any,
    bias_hh: typing.Any,
    weight_hr: typing.Any,
    weight_ch: typing.Any,
    reserve: typing.Any,
    reverse: bool,
    grad_weight_ih: typing.Any,
    grad_weight_hh: typing.Any,
    grad_bias_ih: typing.Any,
    grad_bias_hh: typing.Any,
    grad_weight_hr: typing.Any,
    grad_weight_ch: typing.Any,
    need_dx: bool = True,
    write_grads: bool = False,
) -> tuple:
    """
    Backward of a training forward; accumulates into the grad_* arrays (with write_grads=True writes them, whatever they held). Returns (dx, dh0, dc0); dx is None (and not computed) with need_dx=False. (GPU kernels under the CPU grid emulator, for tests)
    """

def _emulated_rnn_backward_ptr(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
    float64: bool,
    device: typing.SupportsInt | typing.SupportsIndex,
    stream: typing.SupportsInt | typing.SupportsIndex,
    out: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    grads: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    inputs: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    weights: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    reverse: bool,
) -> None:
    """
    Queues rnn_backward on a CUDA stream. Device pointers (0: absent, not computed): out (dx, dh0, dc0, workspace), grads accumulated into (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch), in (dy, dh_n, dc_n, x, lengths, reserve), weights (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch). (host memory, grid emulator: for tests)
    """

def _emulated_rnn_forward(
    desc: RnnDesc,
    x: numpy.ndarray,
    lengths: typing.Any,
    h0: typing.Any,
    c0: typing.Any,
    weight_ih: typing.Any,
    weight_hh: typing.Any,
    bias_ih: typing.Any,
    bias_hh: typing.Any,
    weight_hr: typing.Any,
    weight_ch: typing.Any,
    reverse: bool,
    training: bool,
    reserve_out: typing.Any = None,
) -> tuple:
    """
    Runs one layer in one direction over a sequence. Returns (y, h_n, c_n, reserve). In training the reserve is written into reserve_out when given (an array of rnn_reserve_size elements no context still needs), else into a new array. (GPU kernels under the CPU grid emulator, for tests)
    """

def _emulated_rnn_forward_ptr(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
    float64: bool,
    device: typing.SupportsInt | typing.SupportsIndex,
    stream: typing.SupportsInt | typing.SupportsIndex,
    out: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    inputs: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    weights: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    reverse: bool,
) -> None:
    """
    Queues rnn_forward on a CUDA stream. Device pointers: out (y, h_n, c_n, reserve, workspace), in (x, lengths, h0, c0), weights (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch). (host memory, grid emulator: for tests)
    """

def _gpu_device_memory(read: bool, pools: typing.SupportsInt | typing.SupportsIndex) -> str:
    """
    The call the GPU word2vec takes device memory with, given whether the device's cudaDevAttrMemoryPoolsSupported was read and its value (for tests).
    """

def _rnn_cpu_loop_split(
    desc: RnnDesc, N: typing.SupportsInt | typing.SupportsIndex, training: bool = True
) -> str:
    """
    How the CPU time loop shares `N` rows among the threads set, in training or inference (for tests).
    """

def _rnn_cpu_l2_cache_bytes() -> int:
    """
    Bytes of one core's L2 cache as the CPU time loop's plan takes it (for tests).
    """

def _rnn_cpu_fused_step_rows() -> int:
    """
    Rows from which a single float32 inference step takes the fused CPU loop (for tests; the largest int64 without the fused kernels).
    """

def blas_version() -> str: ...
def compiler() -> str: ...
def cuda_compiled() -> bool: ...
def cuda_cublas_path() -> str:
    """
    The cuBLAS library loaded, or ''.
    """

def cuda_device_count() -> int: ...
def cuda_load_cublas(path: str) -> None:
    """
    Opens libcublas.so.13 from a path or loader name (once per process).
    """

def cuda_rnn_backward(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
    float64: bool,
    device: typing.SupportsInt | typing.SupportsIndex,
    stream: typing.SupportsInt | typing.SupportsIndex,
    out: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    grads: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    inputs: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    weights: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    reverse: bool,
) -> None:
    """
    Queues rnn_backward on a CUDA stream. Device pointers (0: absent, not computed): out (dx, dh0, dc0, workspace), grads accumulated into (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch), in (dy, dh_n, dc_n, x, lengths, reserve), weights (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch).
    """

def cuda_rnn_forward(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
    float64: bool,
    device: typing.SupportsInt | typing.SupportsIndex,
    stream: typing.SupportsInt | typing.SupportsIndex,
    out: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    inputs: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    weights: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex],
    reverse: bool,
) -> None:
    """
    Queues rnn_forward on a CUDA stream. Device pointers: out (y, h_n, c_n, reserve, workspace), in (x, lengths, h0, c0), weights (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch).
    """

def cuda_runtime_info() -> str: ...
def default_num_threads() -> int:
    """
    FASTRNN_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs the process may run on.
    """

def get_num_threads() -> int: ...
def gpu_rnn_backward_workspace_size(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
    with_lengths: bool,
) -> int:
    """
    Elements of the GPU driver's backward workspace (with_lengths: the call passes lengths).
    """

def gpu_rnn_forward_workspace_size(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
    training: bool,
) -> int:
    """
    Elements of the GPU driver's forward workspace.
    """

def linear_backward(
    dy: numpy.ndarray,
    x: typing.Any,
    weight: typing.Any,
    grad_weight: typing.Any,
    grad_bias: typing.Any,
    need_dx: bool = True,
) -> typing.Any:
    """
    Returns dx [M, I] = dy weight (None, not computed, with need_dx=False); accumulates grad_weight += dy^T x and grad_bias += column sums of dy.
    """

def linear_forward(x: numpy.ndarray, weight: typing.Any, bias: typing.Any) -> numpy.ndarray:
    """
    y [M, O] = x [M, I] weight^T [I, O] (+ bias [O]), one GEMM over fastrnn's threads.
    """

def openmp_runtime() -> str:
    """
    The OpenMP runtime running the parallel work, or '' for fastrnn's pool.
    """

def rnn_backward(
    desc: RnnDesc,
    dy: numpy.ndarray,
    dh_n: typing.Any,
    dc_n: typing.Any,
    x: numpy.ndarray,
    lengths: typing.Any,
    weight_ih: typing.Any,
    weight_hh: typing.Any,
    bias_ih: typing.Any,
    bias_hh: typing.Any,
    weight_hr: typing.Any,
    weight_ch: typing.Any,
    reserve: typing.Any,
    reverse: bool,
    grad_weight_ih: typing.Any,
    grad_weight_hh: typing.Any,
    grad_bias_ih: typing.Any,
    grad_bias_hh: typing.Any,
    grad_weight_hr: typing.Any,
    grad_weight_ch: typing.Any,
    need_dx: bool = True,
    write_grads: bool = False,
) -> tuple:
    """
    Backward of a training forward; accumulates into the grad_* arrays (with write_grads=True writes them, whatever they held). Returns (dx, dh0, dc0); dx is None (and not computed) with need_dx=False.
    """

def rnn_forward(
    desc: RnnDesc,
    x: numpy.ndarray,
    lengths: typing.Any,
    h0: typing.Any,
    c0: typing.Any,
    weight_ih: typing.Any,
    weight_hh: typing.Any,
    bias_ih: typing.Any,
    bias_hh: typing.Any,
    weight_hr: typing.Any,
    weight_ch: typing.Any,
    reverse: bool,
    training: bool,
    reserve_out: typing.Any = None,
) -> tuple:
    """
    Runs one layer in one direction over a sequence. Returns (y, h_n, c_n, reserve). In training the reserve is written into reserve_out when given (an array of rnn_reserve_size elements no context still needs), else into a new array.
    """

def rnn_reserve_size(
    desc: RnnDesc,
    T: typing.SupportsInt | typing.SupportsIndex,
    N: typing.SupportsInt | typing.SupportsIndex,
) -> int:
    """
    Elements of the training reserve rnn_forward returns for T steps of N sequences.
    """

def rnn_step(
    desc: RnnDesc,
    x: numpy.ndarray,
    h: typing.Any,
    c: typing.Any,
    weight_ih: typing.Any,
    weight_hh: typing.Any,
    bias_ih: typing.Any,
    bias_hh: typing.Any,
    weight_ch: typing.Any,
) -> tuple:
    """
    One inference step of a cell. Returns (h', c' or None).
    """

def set_num_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None: ...
def simd_level() -> str: ...
def softmax_xent_backward(
    logits: numpy.ndarray,
    targets: typing.Any,
    mask: typing.Any,
    stats: typing.Any,
    ignore_index: typing.SupportsInt | typing.SupportsIndex,
    scale: typing.SupportsFloat | typing.SupportsIndex,
) -> numpy.ndarray:
    """
    Gradient of the loss (times scale) with respect to logits [M, V].
    """

def softmax_xent_forward(
    logits: numpy.ndarray,
    targets: typing.Any,
    mask: typing.Any,
    ignore_index: typing.SupportsInt | typing.SupportsIndex,
) -> tuple:
    """
    Softmax cross-entropy over rows. Returns (sum of row losses in nats, counted rows, stats [M, 2] for the backward).
    """

def use_openmp_runtime(path: str) -> bool:
    """
    Runs the parallel work on the loaded OpenMP runtime at `path` ('' = fastrnn's pool); False when no such runtime is loaded.
    """

def version() -> str: ...
def w2v_file_pieces(path: str, parts: typing.SupportsInt | typing.SupportsIndex) -> list[int]:
    """
    The byte offsets [parts+1] cutting a plain text corpus file into the pieces its readers take (for tests).
    """

def w2v_huffman(counts: typing.Any) -> tuple:
    """
    Hierarchical softmax's Huffman tree of counts [V] int64, as gensim builds it: (offsets [V+1] int64, codes [n] uint8, points [n] int32); word i's path is codes and points [offsets[i]:offsets[i+1]].
    """

def w2v_max_sentence() -> int: ...
def w2v_negative_probabilities(
    counts: typing.Any, exponent: typing.SupportsFloat | typing.SupportsIndex
) -> numpy.typing.NDArray[numpy.float64]:
    """
    The alias table's probability of drawing each word (for tests).
    """

def w2v_score(
    syn0: typing.Any,
    syn1: typing.Any,
    code_offsets: typing.Any,
    codes: typing.Any,
    points: typing.Any,
    ids: typing.Any,
    offsets: typing.Any,
    window: typing.SupportsInt | typing.SupportsIndex,
    sg: bool,
    cbow_mean: bool,
    workers: typing.SupportsInt | typing.SupportsIndex,
    chunksize: typing.SupportsInt | typing.SupportsIndex,
) -> numpy.typing.NDArray[numpy.float32]:
    """
    gensim's Word2Vec.score of the sentences ids[offsets[s]:offsets[s+1]] (ids [W] int32, offsets [S+1] int64) under a hierarchical-softmax model (syn0, syn1 [V, E] float32 and w2v_huffman's tree): scores [S] float32, computed by `workers` threads in jobs of `chunksize` sentences (GIL released).
    """

def w2v_subsample_thresholds(
    counts: typing.Any, sample: typing.SupportsFloat | typing.SupportsIndex
) -> numpy.typing.NDArray[numpy.uint32]:
    """
    word2vec.c's keep thresholds [V] uint32 (keep when a 32-bit draw <= threshold).
    """
