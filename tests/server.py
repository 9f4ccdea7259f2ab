"""Start `streamlit run` on a loopback port and wait for its health check (tests and benchmarks)."""

from __future__ import annotations

import subprocess
import time
import urllib.request

from deploy.hall import ROOT, free_port, streamlit_command

__all__ = ["free_port", "start_streamlit"]


def start_streamlit(port: int, *extra: str, log=subprocess.DEVNULL, wait: bool = True) -> subprocess.Popen:
    """The app on 127.0.0.1:`port`; with `wait`, returns once /_stcore/health answers (60 s at most)."""
    proc = subprocess.Popen(streamlit_command(port, *extra), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while wait and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    if wait:
        proc.kill()
        raise RuntimeError("streamlit did not come up within 60 s")
    return proc
