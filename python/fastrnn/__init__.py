"""fastrnn: fused CPU (and optional CUDA) kernels for RNN, LSTM and GRU layers under a numpy API.

Public names: the numpy layers (RNN, LSTM, GRU), the step cells (RNNCell, LSTMCell, GRUCell),
the stateless `functional` API, thread control and `show_config()`; word2vec with gensim's
interface (Word2Vec, KeyedVectors, LineSentence); the training-loop submodules `nn` (Embedding,
Linear, SoftmaxCrossEntropy, ...) and `optim` (SGD, Adam, clip_grad_norm, schedules);
`text` (Vocabulary: raw text to padded id batches).
"""

from fastrnn import _blas  # noqa: F401  (loads the BLAS library before the extension)

# isort: split
from fastrnn import _C, functional, text
from fastrnn._config import get_num_threads, set_num_threads, show_config
from fastrnn.cells import GRUCell, LSTMCell, RNNCell
from fastrnn.layers import GRU, LSTM, RNN

# isort: split
from fastrnn import nn, optim
from fastrnn.word2vec import KeyedVectors, LineSentence, Word2Vec

__version__ = _C.version()

__all__ = [
    "GRU",
    "GRUCell",
    "KeyedVectors",
    "LSTM",
    "LSTMCell",
    "LineSentence",
    "RNN",
    "RNNCell",
    "Word2Vec",
    "__version__",
    "functional",
    "get_num_threads",
    "nn",
    "optim",
    "set_num_threads",
    "show_config",
    "text",
]
