"""fastrnn.nn: what a training loop without a framework needs, on numpy arrays.

Modules (params/grads dicts under PyTorch's names, zero_grad, state_dict, load_state_dict,
forward remembering what backward needs — per calling thread, so threads sharing a module each
pair their own forward and backward — backward accumulating into grads, one thread at a time):
Embedding (sparse RowGrad), Linear, SoftmaxCrossEntropy (fused C++), Dropout, Sequential and
Recurrent (a numpy RNN/LSTM/GRU inside a Sequential; carry_state=True for truncated BPTT).
Helpers: tbptt_chunks, perplexity, accuracy, save_checkpoint, load_checkpoint."""

from fastrnn.nn.checkpoint import load_checkpoint, save_checkpoint
from fastrnn.nn.dropout import Dropout
from fastrnn.nn.embedding import Embedding, RowGrad
from fastrnn.nn.linear import Linear
from fastrnn.nn.loss import SoftmaxCrossEntropy
from fastrnn.nn.metrics import accuracy, perplexity
from fastrnn.nn.module import Module
from fastrnn.nn.recurrent import Recurrent
from fastrnn.nn.sequential import Sequential
from fastrnn.nn.tbptt import tbptt_chunks

__all__ = [
    "Dropout",
    "Embedding",
    "Linear",
    "Module",
    "Recurrent",
    "RowGrad",
    "Sequential",
    "SoftmaxCrossEntropy",
    "accuracy",
    "load_checkpoint",
    "perplexity",
    "save_checkpoint",
    "tbptt_chunks",
]
