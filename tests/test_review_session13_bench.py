"""fastrnn-bench findings of the 13th CLI hunt, one test each (tiny shapes, no timings)."""

import json
import os
import stat
import sys

import pytest
from fastrnn import bench, bench_rnn

TINY = ["--repeats", "1", "--warmup", "1", "--peak-sizes", "32", "--no-progress", "--threads", "1"]


def _run_json(tmp_path, argv):
    path = tmp_path / "out.json"
    assert bench.main([*argv, *TINY, "--json", str(path)]) == 0
    return json.loads(path.read_text())


def test_ctrl_c_exits_with_a_short_message(tmp_path, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run", interrupted)
    path = tmp_path / "out.json"
    assert bench.main(["cell", "-H", "4", *TINY, "--json", str(path)]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "fastrnn-bench: interrupted"
    assert captured.out == ""


def test_progress_off_a_terminal_is_plain_lines(capsys):
    """With stderr redirected to a file or a pipe (a log, CI), the progress is a line per row,
    not tqdm's carriage-return redraws."""
    pytest.importorskip("tqdm")
    argv = ["cell", "--mode", "rnn_relu", "-H", "4", "--repeats", "1", "--warmup", "1"]
    assert bench.main([*argv, "--peak-sizes", "32", "--compare", "none"]) == 0
    err = capsys.readouterr().err  # (capsys's stderr is not a terminal)
    assert "\r" not in err and "\x1b" not in err
    assert "[1/1] cell rnn_relu step N=1 I=4 H=4" in err


def test_without_threadpoolctl_numpy_is_left_out_of_the_peak(tmp_path, monkeypatch):
    """numpy's BLAS runs at its own thread count (all cores) when threadpoolctl cannot set it, so
    its GEMMs would set a peak the run's threads cannot reach."""
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import threadpoolctl now fails
    peak = bench_rnn.sgemm_peak(1, sizes=(32,), repeats=1, backends=("numpy", "fastrnn-openblas"))
    assert "numpy" not in peak["by_backend"]
    assert any("numpy" in note and "left out" in note for note in peak["notes"])
    report = _run_json(tmp_path, ["cell", "-H", "4", "--compare", "none"])
    assert "numpy" not in report["sgemm_peak"]["by_backend"]
    assert any("threadpoolctl is not installed" in note for note in report["notes"])


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_an_output_that_is_not_a_regular_file_is_refused(tmp_path, capsys, option):
    """The atomic write renames a new file over the path, which would replace a FIFO or a device
    (as root, --json /dev/null would replace /dev/null with a regular file)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SystemExit) as info:
        bench.main(["cell", "-H", "4", *TINY, option, str(fifo)])
    assert info.value.code == 2
    assert f"{option}: {fifo} is not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize(
    "argv",
    [
        ["rnn", "-H", "100000000"],  # the weights alone 40 PB (any machine refuses it)
        ["rnn", "-T", "100000000000", "-N", "1", "-H", "1", "--pass", "infer"],
        ["cell", "-N", "1", "-H", "10000000"],
        ["w2v", "--tokens", "100000000000000"],
        ["w2v", "--vocab", "100000000000000"],
        ["rnn", "--layers", "1000000000000", "-H", "1"],  # (a closed form, not a loop over layers)
    ],
)
def test_rows_larger_than_the_memory_are_refused_before_measuring(capsys, argv):
    """Before, they failed after the SGEMM peak as MemoryError (word2vec: OverflowError) rows;
    -H 1000000 went on filling x and dy (12.8 GB each) and --layers 10^12 building layers until
    the OOM killer ended the run."""
    with pytest.raises(SystemExit) as info:
        bench.main([*argv, *TINY])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "of this size holds at least" in err and "GB of memory" in err


@pytest.mark.parametrize("mode", bench_rnn.MODES)
def test_row_bytes_is_a_lower_bound(mode):
    """What the refusal counts is no more than what fastrnn's side of a row holds."""
    T, N, I, H = 5, 2, 3, 4
    row = bench_rnn.measure_rnn(
        mode, T, N, I, H, layers=2, bidirectional=True, repeats=1, warmup=1, compare="none"
    )
    layer = bench_rnn._fastrnn_layer(mode, I, H, 2, True, "float32", 0)
    weights = sum(p.nbytes for p in layer.params.values())
    held = row["fastrnn"]["mem_bytes"] + weights + T * N * I * 4 + T * N * 2 * H * 4  # + x, dy
    assert bench_rnn.rnn_row_bytes(mode, T, N, I, H, 2, 2) <= held
    cell = bench_rnn.measure_cell(mode, 1, I, H, repeats=1, warmup=1, compare="none")
    G = bench_rnn.gates(mode)
    held = (G * H * (I + H) + 2 * G * H + I) * 4 + cell["fastrnn"]["mem_bytes"]
    assert bench_rnn.cell_row_bytes(mode, 1, I, H) <= held


def test_a_float64_run_says_why_it_has_no_peak_fractions_and_no_targets(tmp_path, capsys):
    """The table showed '-' under %peak and no target lines without a word on why."""
    _run_json(tmp_path, ["rnn", "-T", "2", "-N", "2", "-H", "4", "--dtype", "float64"])
    out = capsys.readouterr().out
    assert "note: float64 rows (both libraries): no % of peak, which is float32's SGEMM" in out
    _run_json(tmp_path, ["rnn", "-T", "2", "-N", "2", "-H", "4"])
    assert "float32's SGEMM" not in capsys.readouterr().out


def test_help_gives_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 when every row was measured" in out and "130 when interrupted" in out
