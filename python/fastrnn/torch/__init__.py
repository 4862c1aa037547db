"""fastrnn.torch: torch.nn's recurrent modules running on fastrnn's fused kernels.

Change `torch.nn.LSTM` to `fastrnn.torch.LSTM` (or call `fastrnn.torch.convert(model)`) and
nothing else: constructors, parameter names, state_dicts, inputs and outputs are torch.nn's.
CPU float32/float64 tensors run on fastrnn's kernels, registered as the torch.library custom ops
`torch.ops.fastrnn.rnn_forward` / `rnn_backward` (so torch.compile traces them), and so do CUDA
float32/float64 tensors in a CUDA build with a GPU present; other devices and dtypes run on
torch's implementation after a one-time warning. Importing it moves fastrnn's parallel work onto
torch's OpenMP threads (_threads.py), so the two libraries take turns on the same threads, and
makes fastrnn's default thread count torch's where torch's is lower (physical cores, where SMT
doubles the logical CPUs fastrnn counts).

Public names: RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, convert, revert.
"""

try:
    import torch  # noqa: F401
except ImportError as e:
    raise ImportError(
        'fastrnn.torch needs PyTorch (torch>=2.4,<=2.13.0): pip install "fastrnn[torch]" '
        "(or pip install torch==2.13.0)"
    ) from e

from fastrnn.torch import _ops  # noqa: F401,E402  (registers torch.ops.fastrnn.*)
from fastrnn.torch._threads import follow_torch_thread_count, share_torch_threads
from fastrnn.torch.cells import GRUCell, LSTMCell, RNNCell
from fastrnn.torch.convert import convert, revert
from fastrnn.torch.modules import GRU, LSTM, RNN

if share_torch_threads():
    follow_torch_thread_count()

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "convert", "revert"]
