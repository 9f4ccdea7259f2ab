"""Compute each cached function's key once per definition, not on every rerun.

A page script is executed again on every widget change, so each
`@st.cache_data` / `@st.cache_resource` decorator in it runs again, and
Streamlit 1.67 rebuilds the function's cache key each time: a hash of its
module, qualified name and source, read with `inspect.getsource` (the file is
opened and tokenised). On rl_basics that was ~11 functions and ~30 ms of every
warm rerun (cProfile, AppTest).

The script's bytecode is compiled once per server (Streamlit's ScriptCache), so a
function defined in a page gets the same code object on every rerun. The key
depends only on the module, the qualified name and the source of that code, so
it is remembered per (cache type, code object, module, qualified name). A page
edited on disk is recompiled (new code object) when the server reloads it, so a
stale key is never reused for new code.

References:
    streamlit 1.67, streamlit/runtime/caching/cache_utils.py: `_make_function_key`.
"""

from __future__ import annotations

from typing import Any

from streamlit.runtime.caching import cache_utils

_original = getattr(cache_utils, "_make_function_key", None)
_memo: dict[tuple[Any, ...], str] = {}


def _remembered_function_key(cache_type: Any, func: Any) -> str:
    code = getattr(func, "__code__", None)
    if code is None or _original is None:
        return _original(cache_type, func)
    key = (cache_type, code, func.__module__, func.__qualname__)
    found = _memo.get(key)
    if found is None:
        found = _memo[key] = _original(cache_type, func)
    return found


def install() -> bool:
    """Route Streamlit's key function through the memo (once; False if this Streamlit has no such function)."""
    if _original is None:
        return False
    if cache_utils._make_function_key is not _remembered_function_key:
        cache_utils._make_function_key = _remembered_function_key
    return True
