"""Review hunt of session 13 over the framework-free training pieces and the examples: defects a
user meets with unusual but accepted input (an --out directory without write permission, URLs in
capitals with lower=False, a tiny sampling temperature, a filler length of 0 in a plot, a batch
size change under carry_state=True, a noise level past float32's range)."""

import os
from pathlib import Path

import fastrnn
import numpy as np
import pytest
from _examples import import_example, run_example_failing
from fastrnn import nn
from fastrnn.text import URL, Vocabulary

UNWRITABLE = Path("/proc/self")  # a directory nobody (root included) can create files in


@pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs Linux's /proc")
def test_examples_refuse_an_out_directory_they_cannot_write_before_training(tmp_path):
    err = run_example_failing("char_lm", tmp_path, "--quick", "--out", str(UNWRITABLE))
    assert "argument --out: cannot write in '/proc/self'" in err and "Traceback" not in err, err


def test_out_directory_check_leaves_nothing_behind(tmp_path):
    cli = import_example("_cli")
    assert cli.output_dir(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert os.listdir(tmp_path / "a" / "b") == []


def test_url_schemes_are_found_in_any_case_without_lower_casing():
    vocab = Vocabulary(lower=False, replace_urls=True)
    text = "See HTTPS://Example.com/X, Http://a.b and WWW.Example.org."
    assert vocab.tokenize(text) == ["See", URL, ",", URL, "and", URL, "."]
    # ASCII case only: a long s (U+017F), which Unicode case folding takes for "s", is a letter
    for lower in (False, True):
        tokens = Vocabulary(lower=lower, replace_urls=True).tokenize("httpſ://x.org")
        assert URL not in tokens, tokens


def test_char_lm_samples_at_a_temperature_so_small_that_logits_overflow():
    char_lm = import_example("char_lm")
    lm = char_lm.CharLM(5, 4, 6, seed=0)
    rng = np.random.default_rng(0)
    ids = lm.sample(0, 4, 1e-320, rng)  # logits / temperature overflow to inf
    assert ids == lm.sample(0, 4, 1e-6, rng)  # both greedy: the most likely id each step


def test_long_memory_plots_a_filler_length_of_zero(monkeypatch, tmp_path):
    long_memory = import_example("long_memory")
    shown = []
    monkeypatch.setattr(long_memory, "save_figure", lambda fig, path, dpi: shown.append(fig))
    runs = {cell: [[0.5], [0.4]] for cell in ("rnn", "lstm", "gru")}
    long_memory.plot([0, 10], runs, 0.125, tmp_path / "p.png")  # warnings are errors here
    low, high = shown[0].axes[0].get_xlim()
    assert low <= 0 < 10 <= high  # (a log axis left the 0 out)
    long_memory.plot([0], {cell: [[0.5]] for cell in runs}, 0.125, tmp_path / "p.png")


@pytest.mark.parametrize("cls", [fastrnn.GRU, fastrnn.LSTM])
def test_a_carried_state_for_another_batch_size_is_named_as_such(cls):
    r = nn.Recurrent(cls(2, 3), carry_state=True)
    r(np.zeros((4, 3, 2), np.float32))
    with pytest.raises(
        ValueError, match=r"x: a batch of N=2 .*carry_state=True.* N=3.*reset_state"
    ):
        r(np.zeros((4, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"x: an unbatched sequence .*carry_state=True.* N=3"):
        r(np.zeros((4, 2), np.float32))
    r.reset_state()
    assert r(np.zeros((4, 2, 2), np.float32)).shape == (4, 2, 3)
    assert r(np.zeros((4, 2, 2), np.float32), hx=r.state).shape == (4, 2, 3)  # given: used as is


@pytest.mark.parametrize("noise", ["1e39", "1e308", "-1", "nan"])
def test_time_series_refuses_a_noise_that_overflows_its_float32_series(tmp_path, noise):
    err = run_example_failing("time_series", tmp_path, "--quick", "--noise", noise)
    assert "argument --noise: expected a number in 0 .. 1e+06" in err and "Traceback" not in err
