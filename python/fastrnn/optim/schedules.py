"""Learning-rate schedules that set an optimiser's `lr`: StepLR (decay by gamma every
step_size steps) and CosineLR (linear warm-up, then half a cosine down to min_lr). Call
`.step()` after each optimiser step; the rate for the next step is `.lr`."""

from __future__ import annotations

import math
import operator


def _count(value, name: str, minimum: int) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}") from None
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


class _Schedule:
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
        return {"base_lr": self.base_lr, "last_step": self.last_step}

    def load_state_dict(self, state_dict: dict) -> None:
        if set(state_dict) != {"base_lr", "last_step"}:
            raise ValueError(
                f"state_dict: expected keys base_lr, last_step, got {sorted(state_dict)}"
            )
        self.base_lr = float(state_dict["base_lr"])
        self.last_step = int(state_dict["last_step"])
        self.optimizer.lr = self._lr_at(self.last_step)


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (steps // step_size), as torch.optim.lr_scheduler.StepLR."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = _count(step_size, "step_size", 1)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0:
            raise ValueError(f"gamma: expected a positive float, got {gamma!r}")
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def _lr_at(self, s: int) -> float:
        return self.base_lr * self.gamma ** (s // self.step_size)


class CosineLR(_Schedule):
    """Steps 0..warmup_steps-1: lr = base_lr * (s + 1) / warmup_steps; then
    lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * p)) / 2 with
    p = (s - warmup_steps) / (total_steps - warmup_steps), held at min_lr after total_steps.
    Without warm-up this is torch's CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)."""

    def __init__(self, optimizer, total_steps: int, min_lr: float = 0.0, warmup_steps: int = 0):
        self.total_steps = _count(total_steps, "total_steps", 1)
        self.warmup_steps = _count(warmup_steps, "warmup_steps", 0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"warmup_steps: expected fewer than total_steps={self.total_steps}, "
                f"got {self.warmup_steps}"
            )
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or min_lr < 0:
            raise ValueError(f"min_lr: expected a float >= 0, got {min_lr!r}")
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def _lr_at(self, s: int) -> float:
        if s < self.warmup_steps:
            return self.base_lr * (s + 1) / self.warmup_steps
        span = self.total_steps - self.warmup_steps
        progress = min(s - self.warmup_steps, span) / span
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
