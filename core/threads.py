"""One PyTorch thread for this app's small models.

The tensors here are tiny (a few hundred units), so intra-op parallelism has
nothing to split, and on a busy 2-core server its threads spin-wait for each
other. Measured on this machine: GRPO toy training 1.2 s with one thread, 23 s
with two; one gradient-through-depth network 25-190 ms against 0.6-1.2 s.

References:
    PyTorch docs, "CPU threading and TorchScript inference" (torch.set_num_threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block; the previous setting is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
