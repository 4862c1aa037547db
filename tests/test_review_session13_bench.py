"""fastrnn-bench findings of the 13th CLI hunt, one test each (tiny shapes, no timings)."""

import os

from fastrnn import bench

TINY = ["--repeats", "1", "--warmup", "1", "--peak-sizes", "32", "--no-progress", "--threads", "1"]


def test_ctrl_c_exits_with_a_short_message_and_writes_nothing(tmp_path, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run", interrupted)
    path = tmp_path / "out.json"
    assert bench.main(["cell", "-H", "4", *TINY, "--json", str(path)]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "fastrnn-bench: interrupted"
    assert captured.out == ""
    assert os.listdir(tmp_path) == []
