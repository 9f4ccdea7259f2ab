"""The server's one store of results kept across sessions, bounded by bytes, and its allocator settings.

Heavy results (trained models' predictions, sampling runs, simulations) are kept
for every session so a second visitor, or a lecture hall, gets them at once.
They all go through `STORE`: one least-recently-used store per server process,
bounded by the bytes its results hold (`MAX_BYTES`) and, per kind of work, by a
number of entries. Pages reach it through `ui.page.with_progress` and
`ui.page.has_result`.

Memory budget (DESIGN.md): peak RSS <= 600 MB per process, for Streamlit
Community Cloud's smallest tier (690 MB). Importing Streamlit, pandas, Altair,
pyarrow and torch alone takes ~330 MB (measured). What is left goes to the
page's st.cache_data entries (~12 MB after the memory benchmark, from
`/_stcore/metrics`), this store, and the allocator: `tune_allocator` keeps
glibc from holding freed memory in per-thread arenas (each rerun runs on a new
thread) and returns large freed blocks to the system at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

MAX_BYTES = 64 * 2**20  # every kept result together (the largest, OadTR with ablations, is ~2 MB)


def size_of(obj: Any, _depth: int = 0) -> int:
    """Bytes an object holds, counting array buffers (numpy, torch, pandas, Arrow), recursively.

    An estimate for bounding the store: containers and dataclasses are walked to a
    depth of 6; anything else counts its `sys.getsizeof`.
    """
    if _depth > 6:
        return 0
    nbytes = getattr(obj, "nbytes", None)  # numpy arrays, Arrow tables
    if isinstance(nbytes, int) and not callable(nbytes):
        return nbytes + 100
    mod = type(obj).__module__
    if mod.startswith("torch") and hasattr(obj, "element_size"):
        return obj.element_size() * obj.nelement() + 100
    if mod.startswith("pandas") and hasattr(obj, "memory_usage"):
        usage = obj.memory_usage(deep=True)
        return int(usage.sum() if hasattr(usage, "sum") else usage)
    if isinstance(obj, dict):
        return sys.getsizeof(obj) + sum(
            size_of(k, _depth + 1) + size_of(v, _depth + 1) for k, v in obj.items()
        )
    if isinstance(obj, list | tuple | set | frozenset):
        return sys.getsizeof(obj) + sum(size_of(v, _depth + 1) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sys.getsizeof(obj) + sum(
            size_of(getattr(obj, f.name), _depth + 1) for f in dataclasses.fields(obj)
        )
    return sys.getsizeof(obj)


class BoundedStore:
    """Least-recently-used results by (kind, key), bounded by total bytes and by entries per kind."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, Hashable], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, kind: str, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            item = self._items.get((kind, key))
            if item is None:
                return default
            self._items.move_to_end((kind, key))
            return item[0]

    def __contains__(self, kind_key: tuple[str, Hashable]) -> bool:
        with self._lock:
            return kind_key in self._items

    def put(self, kind: str, key: Hashable, value: Any, *, max_entries: int | None = None) -> None:
        """Keep `value`; drop the least recently used results beyond the bounds.

        The newest result is always kept, even alone over `max_bytes`.
        """
        size = size_of(value)
        with self._lock:
            old = self._items.pop((kind, key), None)
            if old is not None:
                self._bytes -= old[1]
            self._items[(kind, key)] = (value, size)
            self._bytes += size
            if max_entries is not None:
                mine = [k for k in self._items if k[0] == kind]
                for k in mine[: max(0, len(mine) - max_entries)]:
                    self._bytes -= self._items.pop(k)[1]
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


STORE = BoundedStore(MAX_BYTES)

# glibc allocator --------------------------------------------------------------------------------
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_libc: Any = None


def tune_allocator() -> bool:
    """Make glibc give freed memory back (Linux/glibc only; elsewhere a no-op). Idempotent.

    - At most 2 malloc arenas: glibc otherwise opens up to 8 per core for the
      threads that run reruns, and memory freed in one arena is not reused by
      another.
    - Blocks of 256 kB and more (arrays, tensors, Arrow buffers) come from their
      own mapping and go back to the system when freed. glibc's default raises
      this threshold after each large free, up to 32 MB, so arrays end up in the
      arenas and their memory stays with the process.
    """
    global _libc
    if _libc is not None:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = (
        mallopt(_M_ARENA_MAX, 2)
        and mallopt(_M_MMAP_THRESHOLD, 256 * 1024)
        and mallopt(_M_TRIM_THRESHOLD, 1 << 20)
    )
    _libc = libc
    return bool(ok)


def trim() -> None:
    """Hand free memory at the top of the arenas back to the system (after heavy work)."""
    if _libc is not None and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)


# Set once per process, before the first rerun allocates: every page imports this through ui.page.
tune_allocator()
