"""AdamW (Loshchilov & Hutter 2019) with torch.optim.AdamW's update rule: Adam whose weight
decay shrinks the parameter, p *= 1 - lr·weight_decay, before the step instead of adding
weight_decay·p to the gradient. A RowGrad parameter (sparse embedding) decays lazily, as in
fastrnn's Adam: only the rows in this step's batch shrink and move."""

from __future__ import annotations

from fastrnn.optim.adam import Adam


class AdamW(Adam):
    """Adam with decoupled_weight_decay=True: p *= 1 - lr·weight_decay, then Adam's step on the
    unchanged gradient (torch's default weight_decay 0.01)."""

    _hyper_defaults = {"decoupled_weight_decay": True}

    def __init__(self, modules, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(modules, lr, betas, eps, weight_decay, decoupled_weight_decay=True)
