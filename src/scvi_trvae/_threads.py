"""torch's thread count, kept across the scanpy calls that start numba's parallel threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Give torch back its thread count when the block ends.

    The first parallel numba function of a process (scanpy's Wilcoxon test, neighbours, UMAP)
    starts numba's OpenMP threading layer on the libgomp that torch loaded, and that sets
    torch's thread count to every core: ``torch.set_num_threads`` (or ``OMP_NUM_THREADS``) is
    undone for every later training. Two single-threaded benchmark runs on two cores then trained
    with two threads each, and a training that had taken 3 minutes had not ended after 28.
    """
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
