"""Review of the recent optimiser, schedule, word2vec-format, Linear and stub commits: each test
failed before its fix."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastrnn import nn, optim


def test_optimizer_load_state_dict_error_names_the_keys_given_not_the_defaults_filled_in():
    """A state dict missing keys gets an error listing the keys it has: the default filled in for
    state dicts from before decoupled_weight_decay is not reported as given."""
    opt = optim.Adam([nn.Linear(2, 2, seed=0)])
    before = opt.state_dict()
    with pytest.raises(ValueError, match=re.escape("got ['lr', 'state']")):
        opt.load_state_dict({"lr": 0.5, "state": {}})
    assert opt.lr == before["lr"] and opt.decoupled_weight_decay is False
    with pytest.raises(ValueError, match="got list"):
        optim.AdamW([nn.Linear(2, 2, seed=0)]).load_state_dict([])
    # a complete state dict from before the flag still loads with the class's rule
    old = {k: v for k, v in optim.AdamW([nn.Linear(2, 2, seed=0)]).state_dict().items()}
    del old["decoupled_weight_decay"]
    adamw = optim.AdamW([nn.Linear(2, 2, seed=0)])
    adamw.load_state_dict(old)
    assert adamw.decoupled_weight_decay is True
    np.testing.assert_equal(adamw.lr, old["lr"])


@pytest.mark.parametrize("name", ["ReduceLROnPlateau", "StepLR"])
@pytest.mark.parametrize("bad", [np.array([0.1, 0.1]), np.array([]), np.array([2])])
def test_schedule_load_state_dict_names_a_setting_saved_as_an_array(name, bad):
    """A setting saved as an array (a hand-made or hostile state) is a ValueError naming it, not
    numpy's 'truth value of an array is ambiguous', and nothing changes."""
    opt = optim.SGD([nn.Linear(2, 2, seed=0)], lr=0.1)
    sched = optim.ReduceLROnPlateau(opt) if name == "ReduceLROnPlateau" else optim.StepLR(opt, 2)
    setting = "factor" if name == "ReduceLROnPlateau" else "step_size"
    saved = sched.state_dict()
    state = {**saved, setting: bad}
    with pytest.raises(ValueError, match=re.escape(f"state_dict[{setting!r}]")):
        sched.load_state_dict(state)
    assert sched.state_dict() == saved
