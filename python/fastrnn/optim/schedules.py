"""Learning-rate schedules that set an optimiser's `lr`: StepLR (decay by gamma every
step_size steps) and CosineLR (linear warm-up, then half a cosine down to min_lr). Call
`.step()` after each optimiser step; the rate for the next step is `.lr`."""

from __future__ import annotations

import math

from fastrnn.nn._checks import int_at_least, nonnegative_float, real_number
from fastrnn.optim._saved import check_saved_settings


class _Schedule:
    """A subclass sets its hyper-parameters (named in `_hyper`) and defines _lr_at(step)."""

    _hyper: tuple = ()

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"optimizer: expected a fastrnn.optim optimiser, got {optimizer!r}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_step = 0
        optimizer.lr = self._lr_at(0)

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    def step(self) -> None:
        self.last_step += 1
        self.optimizer.lr = self._lr_at(self.last_step)

    def state_dict(self) -> dict:
        """{"base_lr", "last_step", and the schedule's hyper-parameters}."""
        return {
            "base_lr": self.base_lr,
            "last_step": self.last_step,
            **{h: getattr(self, h) for h in self._hyper},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores base_lr and last_step; the hyper-parameters saved must equal this
        schedule's (a ValueError names the first that differs)."""
        check_saved_settings(state_dict, {"base_lr", "last_step", *self._hyper}, self, self._hyper)
        base_lr = nonnegative_float(state_dict["base_lr"], "state_dict['base_lr']")
        last_step = int_at_least(state_dict["last_step"], "state_dict['last_step']", 0)
        self.base_lr, self.last_step = base_lr, last_step
        self.optimizer.lr = self._lr_at(self.last_step)


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (steps // step_size), as torch.optim.lr_scheduler.StepLR."""

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = int_at_least(step_size, "step_size", 1)
        self.gamma = real_number(gamma, "gamma")
        if not 0 < self.gamma < math.inf:
            raise ValueError(f"gamma: expected a finite float > 0, got {gamma!r}")
        super().__init__(optimizer)

    def _lr_at(self, s: int) -> float:
        k = s // self.step_size
        try:
            lr = self.base_lr * self.gamma**k
        except OverflowError:
            lr = math.inf
        if not math.isfinite(lr):
            raise OverflowError(
                f"StepLR: lr = base_lr * gamma ** {k} = {self.base_lr} * {self.gamma} ** {k} "
                "is past the float range (gamma > 1 grows it every step_size steps)"
            )
        return lr


class CosineLR(_Schedule):
    """Steps 0..warmup_steps-1: lr = base_lr * (s + 1) / warmup_steps; then
    lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * p)) / 2 with
    p = (s - warmup_steps) / (total_steps - warmup_steps), held at min_lr after total_steps.
    Without warm-up this is torch's CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)."""

    _hyper = ("total_steps", "min_lr", "warmup_steps")

    def __init__(self, optimizer, total_steps: int, min_lr: float = 0.0, warmup_steps: int = 0):
        self.total_steps = int_at_least(total_steps, "total_steps", 1)
        self.warmup_steps = int_at_least(warmup_steps, "warmup_steps", 0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"warmup_steps: expected fewer than total_steps={self.total_steps}, "
                f"got {self.warmup_steps}"
            )
        self.min_lr = nonnegative_float(min_lr, "min_lr")
        super().__init__(optimizer)

    def _lr_at(self, s: int) -> float:
        if s < self.warmup_steps:
            return self.base_lr * (s + 1) / self.warmup_steps
        span = self.total_steps - self.warmup_steps
        progress = min(s - self.warmup_steps, span) / span
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
