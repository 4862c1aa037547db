"""Fast tests of the fastrnn-bench CLI (python/fastrnn/bench.py, bench_rnn.py): tiny shapes,
the --json schema, --plot, --compare none without torch, the word2vec hook, the suites' plans.

Times are not checked (the machine is shared); the structure and the arithmetic are.
"""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from fastrnn import bench, bench_rnn

TINY = ["--repeats", "1", "--warmup", "1", "--peak-sizes", "32", "--no-progress", "--threads", "1"]

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def _run_json(tmp_path, argv):
    path = tmp_path / "out.json"
    assert bench.main([*argv, *TINY, "--json", str(path)]) == 0
    return json.loads(path.read_text())


def test_forward_gemm_flops():
    # one layer: 2*T*N*G*H*(I+H)
    assert bench_rnn.forward_gemm_flops("lstm", 10, 4, 8, 16) == 2 * 10 * 4 * 4 * 16 * (8 + 16)
    assert bench_rnn.forward_gemm_flops("gru", 10, 4, 8, 16) == 2 * 10 * 4 * 3 * 16 * (8 + 16)
    # two bidirectional layers: the second reads D*H features
    l0 = 2 * 2 * 3 * 1 * 5 * (7 + 5)
    l1 = 2 * 2 * 3 * 1 * 5 * (10 + 5)
    assert bench_rnn.forward_gemm_flops("rnn_tanh", 2, 3, 7, 5, layers=2, directions=2) == 2 * (
        l0 + l1
    )
    # projection adds 2*T*N*P*H and the state is P wide
    assert bench_rnn.forward_gemm_flops("lstm", 1, 1, 3, 4, P=2) == 2 * 4 * 4 * (3 + 2) + 2 * 2 * 4


def test_rnn_json_schema(tmp_path, capsys):
    report = _run_json(tmp_path, ["rnn", "--mode", "lstm,gru", "-T", "3", "-N", "2", "-H", "4"])
    assert report["schema"] == bench.SCHEMA
    assert report["command"].startswith("fastrnn-bench rnn")
    for key in ("model", "cores"):
        assert key in report["machine"]
    for key in ("version", "simd", "blas", "threads"):
        assert key in report["fastrnn"]
    peak = report["sgemm_peak"]
    assert peak["gflops"] > 0 and peak["backend"] in peak["by_backend"]
    assert "numpy" in peak["by_backend"]
    assert len(report["rows"]) == 4  # 2 modes x (training, inference)
    for row in report["rows"]:
        assert row["bench"] == "rnn" and row["pass"] in ("train", "infer")
        assert (row["T"], row["N"], row["I"], row["H"]) == (3, 2, 4, 4)
        G = {"lstm": 4, "gru": 3}[row["mode"]]
        assert row["flops"] == 2 * 3 * 2 * G * 4 * (4 + 4) * (3 if row["pass"] == "train" else 1)
        fr = row["fastrnn"]
        assert fr["ms"] > 0 and len(fr["ms_samples"]) == 1
        assert fr["tokens_per_s"] == pytest.approx(3 * 2 / (fr["ms"] / 1e3))
        assert fr["gflops"] == pytest.approx(row["flops"] / (fr["ms"] * 1e6))
        assert fr["peak_fraction"] == pytest.approx(fr["gflops"] / peak["gflops"])
        assert fr["mem_bytes"] > 0
        if HAVE_TORCH:
            assert row["speedup"] == pytest.approx(row["torch"]["ms"] / fr["ms"])
            assert row["speedup_paired"] > 0
            assert row["torch"]["mem_bytes"] > 0
            assert row["max_abs_diff"] < 1e-4  # the same weights gave the same outputs
    train = [r for r in report["rows"] if r["pass"] == "train"]
    # fastrnn keeps at least its outputs and the saved gates: more than the outputs alone
    lstm = next(r for r in train if r["mode"] == "lstm")
    assert lstm["fastrnn"]["mem_bytes"] > (3 * 2 * 4 + 2 * 2 * 4) * 4
    out = capsys.readouterr().out
    assert "fastrnn ms" in out and "SGEMM peak" in out


def test_rnn_layers_bidirectional_and_float64(tmp_path):
    argv = ["rnn", "--mode", "rnn_tanh", "-T", "2", "-N", "2", "-I", "3", "-H", "4"]
    argv += ["--layers", "2", "--bidirectional", "--pass", "train", "--dtype", "float64"]
    report = _run_json(tmp_path, argv)
    (row,) = report["rows"]
    assert row["layers"] == 2 and row["bidirectional"] and row["dtype"] == "float64"
    assert row["flops"] == 3 * bench_rnn.forward_gemm_flops("rnn_tanh", 2, 2, 3, 4, 2, 2)
    if HAVE_TORCH:
        assert row["max_abs_diff"] < 1e-10


def test_cell_row(tmp_path):
    report = _run_json(tmp_path, ["cell", "--mode", "lstm", "-H", "8"])
    (row,) = report["rows"]
    assert row["bench"] == "cell" and row["pass"] == "step" and row["N"] == 1
    assert row["flops"] == 2 * 1 * 4 * 8 * (8 + 8)
    assert any(note.startswith("fastrnn step: fastrnn.") for note in row["notes"])
    if HAVE_TORCH:
        assert any("LSTMCell" in note for note in row["notes"])
        assert row["max_abs_diff"] < 1e-5  # one step from zeros agrees with torch.nn.LSTMCell


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "sub" / "speedup.png"
    argv = ["cell", "--mode", "gru", "-H", "4", *TINY, "--plot", str(png)]
    assert bench.main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(SystemExit) as e:
        bench.main(["cell", "-H", "4", *TINY, "--plot", str(tmp_path / "p.png")])
    assert e.value.code == 2
    assert "matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("compare", [["--compare", "none"], []])
def test_without_torch(tmp_path, compare):
    """--compare none (and the default) work where torch cannot be imported."""
    path = tmp_path / "out.json"
    argv = ["rnn", "--mode", "gru", "-T", "2", "-N", "1", "-H", "4", *compare, *TINY]
    argv += ["--json", str(path)]
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from fastrnn.bench import main\n"
        f"code = main({argv!r})\n"
        "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "sys.exit(code)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    report = json.loads(path.read_text())
    assert report["settings"]["compare"] == "none"
    assert "torch" not in report["sgemm_peak"]["by_backend"]
    for row in report["rows"]:
        assert row["torch"] is None and row["speedup"] is None


def test_w2v_not_available_yet(monkeypatch, capsys):
    monkeypatch.setattr(bench, "_w2v_module", lambda: None)
    assert bench.main(["w2v"]) == 2
    assert "not available yet" in capsys.readouterr().err
    args = bench.build_parser().parse_args([])
    args.argv = []
    name, opts = bench.plan(args)
    tasks, notes = bench.make_tasks(args, name, opts, bench.Progress(enabled=False))
    assert not any(t.label.startswith("w2v") for t in tasks)
    assert bench.W2V_MISSING in notes


def test_w2v_calls_the_word2vec_benchmark(tmp_path, monkeypatch):
    calls = []

    def run_w2v_benchmark(**kwargs):
        calls.append(kwargs)
        sgs = [kwargs["sg"]] if isinstance(kwargs["sg"], int) else kwargs["sg"]
        return [{"model": f"sg={sg}", "sg": sg, "speedup": 1.5} for sg in sgs]

    fake = types.SimpleNamespace(run_w2v_benchmark=run_w2v_benchmark, QUICK_KWARGS={"tokens": 7})
    monkeypatch.setattr(bench, "_w2v_module", lambda: fake)
    report = _run_json(tmp_path, ["w2v", "--tokens", "1000", "--vocab", "50", "--sg", "both"])
    (call,) = calls
    assert call["sg"] == (1, 0) and call["tokens"] == 1000 and call["vocab"] == 50
    assert call["workers"] == 1 and call["compare_gensim"] and call["seed"] == 0  # --threads 1
    assert call["repeats"] == 1 and callable(call["progress"])
    assert [r["bench"] for r in report["rows"]] == ["w2v", "w2v"]
    assert report["summary"]["geomean_speedup"] == {"w2v": pytest.approx(1.5)}
    # the quick suite takes the word2vec benchmark's own quick sizes
    args = bench.build_parser().parse_args([])
    args.argv = []
    name, opts = bench.plan(args)
    tasks, notes = bench.make_tasks(args, name, opts, bench.Progress(enabled=False))
    assert bench.W2V_MISSING not in notes
    calls.clear()
    [t for t in tasks if t.label.startswith("w2v")][0].run()
    assert calls[0]["tokens"] == 7 and calls[0]["sg"] == (1, 0)


def test_suite_plans():
    parser = bench.build_parser()
    for argv, expected_rnn, expected_cell in (
        ([], 2 * len(bench.QUICK_RNN), len(bench.QUICK_CELLS)),
        (["suite"], 2 * len(bench.QUICK_RNN), len(bench.QUICK_CELLS)),
        (["suite", "--full"], 3 * 4 * 2, 3 * 2),
    ):
        args = parser.parse_args(argv)
        args.argv = argv
        name, opts = bench.plan(args)
        assert opts["threads"] == 2  # the grid is defined at 2 threads
        tasks, _ = bench.make_tasks(args, name, opts, bench.Progress(enabled=False))
        labels = [t.label for t in tasks]
        assert sum(label.startswith("rnn ") for label in labels) == expected_rnn
        assert sum(label.startswith("cell ") for label in labels) == expected_cell
    full = [t.label for t in tasks]
    for mode in ("rnn_tanh", "lstm", "gru"):
        for T, N, size in bench.FULL_SHAPES:
            for p in ("train", "infer"):
                assert f"rnn {mode} {p} T={T} N={N} I={size} H={size}" in full
        for H in (64, 256):
            assert f"cell {mode} step N=1 I={H} H={H}" in full


def test_options_are_checked():
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["rnn", "--mode", "lstmx"])
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["rnn", "-T", "0"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threads", "5000"], "expected at most 4096 threads"),
        (["--wait-quiet", "nan"], "expected a finite number of seconds >= 0"),
        (["--wait-quiet", "-5"], "expected a finite number of seconds >= 0"),
        (["--peak-sizes", "100000"], "expected sizes up to 8192"),
        (["--warmup", "0"], "expected a positive integer"),
        (["--json", ""], "expected a file path, got ''"),
        (["--json", "{dir}"], "--json: {dir} is a directory"),
        (["--plot", "{dir}/chart.txt"], "--plot: expected a .png path"),
        (["--markdown", "{dir}/latin1.md"], "--markdown: cannot read"),
        (["--json", "{dir}/afile/x.json"], "--json: cannot make the directory"),
        # a link leading into that file: atomic_write writes beside the file the link leads to
        (["--json", "{dir}/link.json"], "--json: cannot make the directory"),
        # one file for two outputs: the second would replace the first (or refuse it, after the run)
        (["--json", "{dir}/r.md", "--markdown", "{dir}/./r.md"], "--markdown: {dir}/./r.md is"),
    ],
)
def test_bad_options_and_output_paths_fail_before_measuring(tmp_path, capsys, argv, message):
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "afile").write_text("x")
    if hasattr(os, "symlink"):
        (tmp_path / "link.json").symlink_to(tmp_path / "afile" / "x.json")
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as info:
        bench.main(["cell", "-H", "4", "--compare", "none", "--no-progress", *argv])
    assert info.value.code == 2
    assert message.replace("{dir}", str(tmp_path)) in capsys.readouterr().err


def test_a_mode_named_twice_is_measured_once():
    assert bench._modes("lstm,gru,lstm") == ["lstm", "gru"]
    assert bench._modes("all") == list(bench_rnn.MODES)


def test_w2v_markdown_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["w2v", "--markdown", "w.md"])
    assert "--markdown: writes the RNN table" in capsys.readouterr().err


def test_time_alternating_counts_calls():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b():
        calls["b"] += 1

    samples = bench_rnn.time_alternating({"a": a, "b": b}, repeats=3, warmup=2, min_sample_s=0)
    assert [len(s) for s in samples.values()] == [3, 3]
    assert calls == {"a": 5, "b": 5}


def test_numpy_bytes_counts_each_buffer_once():
    x = np.zeros((4, 8), np.float32)
    y = np.zeros(10, np.float64)
    assert bench_rnn.numpy_bytes([x, x[1:], x.T, y]) == x.nbytes + y.nbytes
    assert bench_rnn.numpy_bytes([x, y], exclude=[y]) == x.nbytes


def _row(mode, pss, shape, speedup, torch_peak=0.9, peak=0.5, mem=(1, 2), bench_name="rnn"):
    T, N, H = shape
    return {
        "bench": bench_name, "pass": pss, "mode": mode, "T": T, "N": N, "I": H, "H": H,
        "speedup": speedup,
        "fastrnn": {"peak_fraction": peak, "mem_bytes": mem[0]},
        "torch": {"peak_fraction": torch_peak, "mem_bytes": mem[1]},
    }  # fmt: skip


def test_check_targets():
    rows = [
        _row("lstm", "train", (50, 64, 512), 1.2, peak=0.95),
        _row("gru", "train", (100, 32, 128), 3.0, torch_peak=0.2, mem=(3, 2)),
        _row("gru", "infer", (100, 32, 128), 0.9, torch_peak=0.2),
        _row("lstm", "step", (1, 1, 256), 2.5, bench_name="cell"),
    ]
    targets = {t["target"]: t for t in bench.check_targets(rows, 100.0)}
    assert len(targets) == 6
    assert targets["fastrnn >= 1.0x PyTorch on every row"]["failing"] == [
        "gru infer (100,32,128,128): 0.90x"
    ]
    assert targets["geometric-mean training speedup >= 2x"]["ok"] is False  # sqrt(3.6) < 2
    slow = targets[">= 2x on every row where PyTorch runs below half of the SGEMM peak"]
    assert slow["failing"] == ["gru infer (100,32,128,128): 0.90x"]
    assert targets["(50, 64, 512) training rows >= 90% of the SGEMM peak"]["ok"]
    assert not targets["LSTM step at N=1, H=256 >= 3x torch.nn.LSTMCell"]["ok"]
    assert len(targets["training memory <= PyTorch's"]["failing"]) == 1


def test_a_missed_target_never_prints_as_the_target():
    rows = [
        _row("rnn_tanh", "train", (50, 64, 512), 0.9996, peak=0.89996, torch_peak=0.2),
        _row("lstm", "step", (1, 1, 256), 2.9999, bench_name="cell"),
        _row("gru", "train", (100, 32, 128), 0.29, torch_peak=0.2),
    ]
    failing = {t["target"]: t["failing"] for t in bench.check_targets(rows, 100.0)}
    assert failing["fastrnn >= 1.0x PyTorch on every row"] == [
        "rnn_tanh train (50,64,512,512): 0.99x",
        "gru train (100,32,128,128): 0.29x",
    ]
    assert failing["(50, 64, 512) training rows >= 90% of the SGEMM peak"] == [
        "rnn_tanh train (50,64,512,512): 89.9%"
    ]
    assert failing["LSTM step at N=1, H=256 >= 3x torch.nn.LSTMCell"] == [
        "lstm step (1,1,256,256): 2.99x"
    ]


def test_grid_targets_leave_out_rows_off_the_grid():
    # issue 5's (50, 64, 512) and N=1, H=256 targets are for one unidirectional layer with I = H:
    # a row with another I, more layers or two directions is another workload
    rows = [
        dict(_row("lstm", "train", (50, 64, 512), 1.5, peak=0.3), I=16),
        dict(_row("gru", "train", (50, 64, 512), 1.5, peak=0.3), layers=2),
        dict(_row("rnn_tanh", "train", (50, 64, 512), 1.5, peak=0.3), bidirectional=True),
        dict(_row("lstm", "step", (1, 1, 256), 1.5, bench_name="cell"), I=64),
    ]
    targets = {t["target"] for t in bench.check_targets(rows, 100.0)}
    assert "(50, 64, 512) training rows >= 90% of the SGEMM peak" not in targets
    assert "LSTM step at N=1, H=256 >= 3x torch.nn.LSTMCell" not in targets
    assert "fastrnn >= 1.0x PyTorch on every row" in targets


def test_markdown_output(tmp_path):
    md = tmp_path / "section.md"
    argv = ["rnn", "--mode", "gru", "-T", "2", "-N", "2", "-H", "4", "--pass", "train"]
    assert bench.main([*argv, *TINY, "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "fastrnn-bench rnn" in text and "SGEMM peak" in text
    assert "| train | gru | 2,2,4,4 |" in text


def test_one_thread_is_written_in_the_singular(tmp_path):
    md = tmp_path / "section.md"  # TINY runs at --threads 1
    assert bench.main(["cell", "--mode", "gru", "-H", "4", *TINY, "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "1 thread " in text and "1 threads" not in text


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_markdown_through_a_link_points_at_the_plot_from_where_it_is_written(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "BENCH.md").write_text("")
    link = tmp_path / "BENCH.md"
    link.symlink_to(tmp_path / "docs" / "BENCH.md")
    args = types.SimpleNamespace(markdown=str(link), plot=str(tmp_path / "docs" / "chart.png"))
    report = _run_json(tmp_path, ["cell", "--mode", "gru", "-H", "4"])
    bench._write_markdown(report, args)
    assert link.is_symlink()
    assert "](chart.png)" in (tmp_path / "docs" / "BENCH.md").read_text()


def test_progress_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    argv = ["cell", "--mode", "rnn_relu", "-H", "4", "--repeats", "1", "--warmup", "1"]
    assert bench.main([*argv, "--peak-sizes", "32", "--compare", "none"]) == 0
    err = capsys.readouterr().err
    assert "[1/1] cell rnn_relu step N=1 I=4 H=4" in err


def test_markdown_updates_between_markers(tmp_path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# title\n\nintro\n\n{bench.MD_BEGIN}\nold results\n{bench.MD_END}\n\ntail\n")
    assert bench.write_markdown(str(doc), "new results\n").startswith("updated")
    text = doc.read_text()
    assert "old results" not in text and "new results" in text
    assert text.startswith("# title\n\nintro\n\n") and text.endswith(f"{bench.MD_END}\n\ntail\n")
    fresh = tmp_path / "new.md"
    assert bench.write_markdown(str(fresh), "only this\n") == "wrote"
    assert fresh.read_text() == f"{bench.MD_BEGIN}\n\nonly this\n\n{bench.MD_END}\n"
    # a file the tool wrote is one it updates
    assert bench.write_markdown(str(fresh), "then this\n").startswith("updated")
    assert "then this" in fresh.read_text() and "only this" not in fresh.read_text()
    # markers quoted in prose do not count: only lines of their own
    quoted = tmp_path / "quoted.md"
    quoted.write_text(
        f"prose about `{bench.MD_END}` and `{bench.MD_BEGIN}`\n{bench.MD_BEGIN}\nold\n"
        f"{bench.MD_END}\ntail\n"
    )
    assert bench.write_markdown(str(quoted), "new\n").startswith("updated")
    assert quoted.read_text() == (
        f"prose about `{bench.MD_END}` and `{bench.MD_BEGIN}`\n{bench.MD_BEGIN}\n\nnew\n\n"
        f"{bench.MD_END}\ntail\n"
    )


def test_others_cpu_and_wait_quiet(tmp_path):
    meter = bench.OthersCpu()
    sum(i * i for i in range(200_000))  # our own work does not count as others'
    share = meter.share()
    assert share is None or 0.0 <= share <= 1.0
    assert bench.wait_quiet(limit=1.01, max_wait=5, interval=0.05) < 1  # always quiet enough
    assert bench.wait_quiet(limit=-1, max_wait=0.1, interval=0.05) >= 0.1  # never quiet: gives up
    report = _run_json(tmp_path, ["cell", "--mode", "gru", "-H", "4", "--wait-quiet", "0.1"])
    (row,) = report["rows"]
    assert "others_cpu" in row and row["waited_quiet_s"] <= 1


def test_a_failing_row_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(bench_rnn, "measure_cell", boom)
    path = tmp_path / "out.json"
    assert bench.main(["cell", "--mode", "lstm,gru", "-H", "4", *TINY, "--json", str(path)]) == 1
    rows = json.loads(path.read_text())["rows"]
    assert [r["error"] for r in rows] == ["RuntimeError: kernel exploded"] * 2
    assert "FAILED cell lstm step" in capsys.readouterr().out


def test_omp_passive_is_set_before_torch_loads(tmp_path):
    path = tmp_path / "out.json"
    argv = ["cell", "-H", "4", "--omp-passive", *TINY, "--json", str(path)]
    code = f"import os, sys\nfrom fastrnn.bench import main\nsys.exit(main({argv!r}))\n"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env)
    assert json.loads(path.read_text())["settings"]["omp_wait_policy"] == "PASSIVE"


def test_compare_gensim_is_accepted(monkeypatch):
    calls = []

    def run_w2v_benchmark(**kwargs):
        calls.append(kwargs)
        return []

    fake = types.SimpleNamespace(run_w2v_benchmark=run_w2v_benchmark)
    monkeypatch.setattr(bench, "_w2v_module", lambda: fake)
    assert bench.main(["w2v", "--compare", "gensim", "--no-progress"]) == 0
    assert calls[0]["compare_gensim"] is True
    assert bench.main(["w2v", "--compare", "none", "--no-progress"]) == 0
    assert calls[1]["compare_gensim"] is False
    args = bench.build_parser().parse_args(["rnn", "--compare", "gensim"])
    args.argv = []
    assert bench.plan(args)[1]["compare"] == ("torch" if HAVE_TORCH else "none")


def test_markdown_refuses_a_file_without_both_markers(tmp_path, capsys):
    """An existing file with text is updated only between both markers: one marker alone, or none
    (README.md given by mistake), is refused before measuring and by write_markdown itself, and
    the file is left as it was."""
    half = tmp_path / "half.md"
    half.write_text(f"# keep me\n\n{bench.MD_BEGIN}\nold\n")
    prose = tmp_path / "README.md"
    prose.write_text("# a readme\n\nprose\n")
    for doc in (half, prose):
        before = doc.read_text()
        with pytest.raises(ValueError, match="exists without both"):
            bench.write_markdown(str(doc), "NEW TABLE\n")
        with pytest.raises(SystemExit) as info:
            bench.main(
                ["cell", "-H", "4", "--compare", "none", "--no-progress", "--markdown", str(doc)]
            )
        assert info.value.code == 2 and "--markdown:" in capsys.readouterr().err
        assert doc.read_text() == before
    empty = tmp_path / "empty.md"
    empty.write_text("\n")
    assert bench.write_markdown(str(empty), "table\n") == "wrote"


def test_output_directory_that_refuses_files_fails_before_measuring(tmp_path, capsys, monkeypatch):
    """The writability check creates a file where the atomic write will (os.access says yes to
    root whatever the file system does)."""
    import tempfile as tempfile_module

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile_module, "NamedTemporaryFile", refuse)
    with pytest.raises(SystemExit) as info:
        bench.main(["cell", "-H", "4", "--compare", "none", "--json", str(tmp_path / "x.json")])
    assert info.value.code == 2 and "--json: cannot write in" in capsys.readouterr().err


def test_plot_without_any_comparison_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["cell", "-H", "4", "--compare", "none", "--plot", str(tmp_path / "c.png")])
    assert info.value.code == 2 and "--plot: the chart shows speedups" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()


def test_w2v_refuses_float64(capsys):
    with pytest.raises(SystemExit) as info:
        bench.main(["w2v", "--dtype", "float64"])
    assert info.value.code == 2 and "word2vec trains float32 only" in capsys.readouterr().err


def test_non_numbers_are_named_in_the_error(capsys):
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["rnn", "-T", "abc"])
    err = capsys.readouterr().err
    assert "expected a positive integer, got 'abc'" in err and "_positive" not in err


def test_float64_rows_have_no_peak_fraction_and_no_targets():
    """The peak is float32's SGEMM: a float64 row reports no fraction of it, and issue 5's targets
    (a float32 grid) leave float64 rows out."""
    row = bench_rnn.measure_rnn(
        "gru", 3, 2, 4, 4, dtype="float64", repeats=1, warmup=1, compare="none", peak=100.0
    )
    assert row["fastrnn"]["peak_fraction"] is None
    assert bench_rnn.PEAK_FLOAT32_ONLY in row["notes"]
    f64 = dict(_row("lstm", "train", (50, 64, 512), 0.5, peak=0.1), dtype="float64")
    assert bench.check_targets([f64], 100.0) == []


def test_measurements_leave_thread_counts_as_they_were():
    import fastrnn

    before = fastrnn.get_num_threads()
    other = 1 if before != 1 else 2
    bench_rnn.measure_cell("lstm", 1, 4, 4, threads=other, repeats=1, warmup=1, compare="none")
    bench_rnn.measure_rnn("lstm", 2, 2, 4, 4, threads=other, repeats=1, warmup=1, compare="none")
    assert fastrnn.get_num_threads() == before
    if HAVE_TORCH:
        torch_before = torch.get_num_threads()
        torch_other = 1 if torch_before != 1 else 2
        bench_rnn.measure_cell("gru", 1, 4, 4, threads=torch_other, repeats=1, warmup=1)
        assert torch.get_num_threads() == torch_before


def test_w2v_rows_follow_repeats_and_warmup(monkeypatch):
    """--repeats and --warmup reach the word2vec rows of every run that has them."""
    seen = []

    def fake_run(**kwargs):
        seen.append(kwargs)
        return []

    module = types.SimpleNamespace(run_w2v_benchmark=fake_run, QUICK_KWARGS={"repeats": 2})
    monkeypatch.setattr(bench, "_w2v_module", lambda: module)
    for argv in (["w2v"], ["suite"], ["suite", "--full"]):
        args = bench.build_parser().parse_args([*argv, "--repeats", "9", "--warmup", "4"])
        args.argv = argv
        name, opts = bench.plan(args)
        tasks, _ = bench.make_tasks(args, name, opts, bench.Progress(enabled=False))
        for task in tasks:
            if task.label.startswith("w2v"):
                task.run()
    assert len(seen) == 3
    assert all(kw["repeats"] == 9 and kw["warmups"] == 4 for kw in seen), seen


def test_a_refused_run_makes_no_directories(tmp_path, capsys):
    """The output paths are checked before measuring without making their directories (they are
    made when the file is written), so a run refused later leaves nothing behind."""
    plot = tmp_path / "new" / "sub" / "x.png"
    data = tmp_path / "other" / "a.json"
    with pytest.raises(SystemExit):
        bench.main(
            ["cell", "-H", "4", "--compare", "none", "--plot", str(plot), "--json", str(data)]
        )
    assert "--plot: the chart shows speedups" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == []


def test_outputs_in_new_directories_are_written(tmp_path):
    path = tmp_path / "deep" / "er" / "out.json"
    assert bench.main(["cell", "-H", "4", "--compare", "none", *TINY, "--json", str(path)]) == 0
    assert json.loads(path.read_text())["rows"]


def test_compares_anything_follows_what_is_installed(monkeypatch):
    parse = bench.build_parser().parse_args
    monkeypatch.setattr(bench, "_torch_available", lambda: False)
    assert not bench._compares_anything(parse(["rnn"]))
    assert not bench._compares_anything(parse(["suite", "--no-w2v"]))
    assert not bench._compares_anything(parse(["suite", "--compare", "none"]))
    monkeypatch.setattr(bench, "_torch_available", lambda: True)
    assert bench._compares_anything(parse(["cell"]))
    assert not bench._compares_anything(parse(["rnn", "--compare", "none"]))


def test_rows_far_above_the_peak_get_a_note(monkeypatch):
    """A row above 125 % of the measured SGEMM peak means the peak measured low: the report says
    so, naming the row and which library's time it was."""
    monkeypatch.setattr(
        bench_rnn,
        "sgemm_peak",
        lambda threads, sizes, backends: {
            "gflops": 1e-3,
            "backend": "numpy",
            "size": 32,
            "by_backend": {},
            "method": "fake",
        },  # fmt: skip
    )
    args = bench.build_parser().parse_args(["cell", "-H", "4", "--compare", "none", *TINY])
    args.argv = ["cell"]
    report = bench.run(args)
    notes = [n for n in report["notes"] if "of the SGEMM peak (" in n]
    assert len(notes) == 1 and "fastrnn lstm step" in notes[0] and "numpy gave the peak" in notes[0]
