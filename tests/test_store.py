"""ui.store: the one bounded store of results kept across sessions, and the allocator settings."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pandas as pd
import pytest

from ui import store


def test_size_of_counts_array_buffers_inside_containers_and_dataclasses():
    @dataclasses.dataclass
    class Run:
        curve: np.ndarray
        table: pd.DataFrame
        by_kind: dict

    run = Run(
        np.zeros(10_000), pd.DataFrame({"x": np.arange(5_000, dtype=np.int64)}), {"a": np.ones((100, 10))}
    )
    buffers = 10_000 * 8 + 5_000 * 8 + 100 * 10 * 8
    size = store.size_of(run)
    # the buffers, plus a little for the objects around them (never less, never 2x)
    assert buffers <= size <= buffers + 5_000


def test_size_of_a_torch_tensor_is_its_buffer():
    torch = pytest.importorskip("torch")
    assert 4 * 1000 <= store.size_of(torch.zeros(1000)) <= 4 * 1000 + 200


def test_store_keeps_the_newest_within_bytes_and_entries():
    s = store.BoundedStore(max_bytes=31_000)
    ten_kb = lambda: np.zeros(1250)  # noqa: E731 - 10,000 bytes
    for k in range(3):
        s.put("train", k, ten_kb())
    assert [("train", k) in s for k in range(3)] == [True, True, True]
    assert s.get("train", 0) is not None  # 0 is now the most recently used
    s.put("sample", "a", ten_kb())  # over 31 kB: the least recently used (1) goes
    assert ("train", 1) not in s and ("train", 0) in s and ("sample", "a") in s
    assert s.bytes <= 31_000
    s.put("sample", "b", np.zeros(10), max_entries=1)  # per kind: only the newest sample
    assert ("sample", "a") not in s and ("sample", "b") in s
    s.put("huge", 0, np.zeros(10_000))  # alone over the budget: kept, everything else goes
    assert len(s) == 1 and s.get("huge", 0) is not None
    assert s.get("train", 0, "missing") == "missing"


def test_page_results_go_through_the_one_store():
    from ui import page

    assert not hasattr(page, "_results"), "no second store of results beside ui.store.STORE"
    assert page.STORE is store.STORE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator settings")
def test_allocator_is_tuned_on_import():
    assert store._libc is not None and store.tune_allocator()
