"""fastrnn.optim: optimisers for numpy modules (anything with `params` and `grads` dicts), the
global gradient-norm clip and learning-rate schedules (StepLR, CosineLR, ReduceLROnPlateau).
Update rules follow torch.optim."""

from fastrnn.optim.adam import Adam
from fastrnn.optim.adamw import AdamW
from fastrnn.optim.clip import clip_grad_norm
from fastrnn.optim.optimizer import Optimizer
from fastrnn.optim.plateau import ReduceLROnPlateau
from fastrnn.optim.schedules import CosineLR, StepLR
from fastrnn.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineLR",
    "Optimizer",
    "ReduceLROnPlateau",
    "StepLR",
    "clip_grad_norm",
]
