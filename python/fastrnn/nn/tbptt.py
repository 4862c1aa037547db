"""Truncated backpropagation through time: walk a long time-major sequence in chunks of k steps.

    lm = fastrnn.nn.Recurrent(fastrnn.LSTM(E, H, 2), carry_state=True)
    for start, stop in fastrnn.nn.tbptt_chunks(len(ids) - 1, k):
        x, y = ids[start:stop], ids[start + 1 : stop + 1]      # [k, N] inputs and next-step targets
        ...forward, loss, backward, step...

`Recurrent(carry_state=True)` starts each chunk from the previous chunk's final state and cuts
the gradient there (the chunk's dh0 is not passed back)."""

from __future__ import annotations

from fastrnn.nn._checks import bool_flag, positive_int


class TbpttChunks:
    """The (start, stop) chunks of tbptt_chunks: iterable again and again (once per epoch), with
    len() the number of chunks."""

    def __init__(self, T_total: int, k: int, drop_last: bool):
        self.T_total, self.k, self.drop_last = T_total, k, drop_last

    def __len__(self) -> int:
        return self.T_total // self.k if self.drop_last else -(-self.T_total // self.k)

    def __iter__(self):
        for start in range(0, len(self) * self.k, self.k):
            yield start, min(start + self.k, self.T_total)

    def __repr__(self) -> str:
        return f"tbptt_chunks({self.T_total}, {self.k}, drop_last={self.drop_last})"


def tbptt_chunks(T_total: int, k: int, *, drop_last: bool = False) -> TbpttChunks:
    """The (start, stop) of consecutive chunks of k steps covering range(T_total), in order; the
    last chunk is shorter unless drop_last (then it is left out). The arguments are checked here,
    and the result can be iterated once per epoch."""
    T_total = positive_int(T_total, "T_total")
    k = positive_int(k, "k")
    return TbpttChunks(T_total, k, bool_flag(drop_last, "drop_last"))
