"""Truncated backpropagation through time: walk a long time-major sequence in chunks of k steps.

    lm = fastrnn.nn.Recurrent(fastrnn.LSTM(E, H, 2), carry_state=True)
    for start, stop in fastrnn.nn.tbptt_chunks(len(ids) - 1, k):
        x, y = ids[start:stop], ids[start + 1 : stop + 1]      # [k, N] inputs and next-step targets
        ...forward, loss, backward, step...

`Recurrent(carry_state=True)` starts each chunk from the previous chunk's final state and cuts
the gradient there (the chunk's dh0 is not passed back)."""

from __future__ import annotations

from fastrnn.nn._checks import positive_int


def tbptt_chunks(T_total: int, k: int, *, drop_last: bool = False):
    """Yields (start, stop) for consecutive chunks of k steps covering range(T_total); the last
    chunk is shorter unless drop_last (then it is skipped)."""
    T_total = positive_int(T_total, "T_total")
    k = positive_int(k, "k")
    for start in range(0, T_total, k):
        stop = min(start + k, T_total)
        if drop_last and stop - start < k:
            return
        yield start, stop
