"""ReduceLROnPlateau: multiplies an optimiser's `lr` by `factor` when a monitored metric (a
validation loss, say) has not improved for more than `patience` calls, with
torch.optim.lr_scheduler.ReduceLROnPlateau's rules: improvement by a relative or absolute
threshold, a cooldown after each reduction, a floor at min_lr, and no change smaller than eps.
Call `.step(metric)` once per evaluation."""

from __future__ import annotations

import math

from fastrnn.nn._checks import int_at_least, nonnegative_float, real_number, real_scalar
from fastrnn.optim._saved import check_saved_settings


class ReduceLROnPlateau:
    """lr *= factor after more than `patience` calls without improvement (see the module)."""

    _settings = (
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lr",
        "eps",
    )
    _counters = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def __init__(
        self,
        optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"optimizer: expected a fastrnn.optim optimiser, got {optimizer!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode: expected 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = nonnegative_float(factor, "factor")
        if self.factor >= 1.0:
            raise ValueError(f"factor: expected a float < 1 (it multiplies lr), got {factor!r}")
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience = int_at_least(patience, "patience", 0)
        self.threshold = nonnegative_float(threshold, "threshold")
        self.cooldown = int_at_least(cooldown, "cooldown", 0)
        self.min_lr = nonnegative_float(min_lr, "min_lr")
        self.eps = nonnegative_float(eps, "eps")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            bar = (
                self.best * (1 - self.threshold)
                if self.threshold_mode == "rel"
                else (self.best - self.threshold)
            )
            return value < bar
        bar = (
            self.best * (1 + self.threshold)
            if self.threshold_mode == "rel"
            else (self.best + self.threshold)
        )
        return value > bar

    def step(self, metric) -> None:
        """Takes this evaluation's metric (a real number: Python, numpy, 0-d array or torch scalar
        tensor) and lowers lr when it is due."""
        value = real_scalar(metric, "metric")
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad evaluations in a cooldown do not count
        if self.num_bad_epochs > self.patience:
            old = self.optimizer.lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def state_dict(self) -> dict:
        """The settings and counters (lr itself is in the optimiser's state_dict)."""
        return {k: getattr(self, k) for k in (*self._settings, *self._counters)}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores the counters; the settings saved must equal this object's (a ValueError names
        the first that differs); nothing changes on an error."""
        expected = {*self._settings, *self._counters}
        check_saved_settings(state_dict, expected, self, self._settings)
        best = real_number(state_dict["best"], "state_dict['best']")
        counters = {
            k: int_at_least(state_dict[k], f"state_dict[{k!r}]", 0)
            for k in ("num_bad_epochs", "cooldown_counter", "last_epoch")
        }
        self.best = best
        for k, v in counters.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor}, "
            f"patience={self.patience}, lr={self.lr})"
        )
