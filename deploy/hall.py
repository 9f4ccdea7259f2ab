"""A lecture hall on one machine: N `streamlit run` workers behind HAProxy (`make hall`).

One Streamlit process runs every session's script under one interpreter lock,
so a class of 40 queues on it. The hall starts N identical workers on loopback
ports and HAProxy in front of them (deploy/haproxy.cfg.tmpl):
- sticky sessions by cookie (never by client IP: a class behind one NAT address
  would all land on one worker), websocket tunnels that live for an hour,
  health checks on /_stcore/health;
- the same cookie secret on every worker (generated once per hall unless
  STREAMLIT_SERVER_COOKIE_SECRET is given), so XSRF cookies stay valid;
- one BLAS/OpenMP/torch thread per worker (N workers x all cores would
  oversubscribe the CPU; see core/threads.py);
- a supervisor that restarts a worker that dies: it puts the worker in
  maintenance in HAProxy at once (the balancer's own checks would take ~3 s,
  and could be answered by the restarted process before they fail), and back
  in service once it is healthy; its students reconnect to a live worker and
  rebuild their view from the URL meanwhile;
- Ctrl-C (SIGINT) or SIGTERM stops everything it started.

    python -m deploy.hall --workers 2 --port 8501      # or: make hall WORKERS=2 PORT=8501

`--state FILE` writes the workers' ports and process ids as JSON after every
(re)start, for tests and benchmarks.

References:
    HAProxy 2.6 configuration manual: `cookie`, `option httpchk`, `timeout tunnel`,
    `option redispatch`, `on-marked-down shutdown-sessions`;
    HAProxy 2.6 management guide, runtime API: `show stat`, `set server <b>/<s> state`.
    Streamlit docs, "Configuration options" (server.cookieSecret, server.address).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("haproxy.cfg.tmpl")
COOKIE = "HALL"
# One thread per worker for every numeric library a page may load.
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_command(port: int, *extra: str) -> list[str]:
    """`streamlit run` of the app on 127.0.0.1:`port`, headless (a hall worker; tests/server.py too)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        *extra,
    ]


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the hall itself dies (even by SIGKILL), so no worker is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()  # the terminal's Ctrl-C reaches the hall only; the hall stops its children in order


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )


def render_config(port: int, worker_ports: list[int], stats_socket: str, bind: str = "*") -> str:
    servers = "\n".join(
        f"    server w{i} 127.0.0.1:{p} cookie w{i} check" for i, p in enumerate(worker_ports, start=1)
    )
    return Template(TEMPLATE.read_text()).substitute(
        bind=bind, port=port, stats_socket=stats_socket, cookie=COOKIE, servers=servers
    )


@dataclass
class Worker:
    name: str
    port: int
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    rejoining: bool = False  # restarted, held in maintenance until it answers its health check


@dataclass
class Hall:
    workers: int = 2
    port: int = 8501
    bind: str = "*"
    secret: str = ""
    state_file: Path | None = None
    log_dir: Path | None = None
    quiet: bool = False
    _workers: list[Worker] = field(default_factory=list)
    _haproxy: subprocess.Popen | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tmp: Path | None = None

    # ------------------------------------------------------------------ start / stop
    def start(self, wait: float = 90) -> Hall:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed: apt-get install haproxy (see .ci/run)")
        self.secret = self.secret or os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
        self._tmp = Path(tempfile.mkdtemp(prefix="hall-"))
        self.log_dir = self.log_dir or self._tmp
        self._workers = [Worker(f"w{i}", free_port()) for i in range(1, self.workers + 1)]
        for w in self._workers:
            self._spawn(w)
        cfg = self._tmp / "haproxy.cfg"
        cfg.write_text(
            render_config(self.port, [w.port for w in self._workers], str(self.stats_socket), self.bind)
        )
        # -db: stay in the foreground, so the hall owns it and sees it die.
        self._haproxy = subprocess.Popen(
            [binary, "-db", "-f", str(cfg)],
            stdout=open(self.log_dir / "haproxy.log", "ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        self._wait_healthy(wait)
        self._wait_balancer(wait=15)
        self._write_state()
        threading.Thread(target=self._supervise, name="hall-supervisor", daemon=True).start()
        return self

    @property
    def stats_socket(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "haproxy.sock"

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            procs = [w.proc for w in self._workers if w.proc] + ([self._haproxy] if self._haproxy else [])
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            deadline = time.monotonic() + 10
            for p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Hall:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ workers
    def _spawn(self, w: Worker) -> None:
        env = {**os.environ, **ONE_THREAD, "STREAMLIT_SERVER_COOKIE_SECRET": self.secret}
        assert self.log_dir is not None
        w.proc = subprocess.Popen(
            streamlit_command(w.port, "--browser.gatherUsageStats", "false"),
            cwd=ROOT,
            env=env,
            stdout=open(self.log_dir / f"{w.name}.log", "ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        w.started_at = time.monotonic()

    def _healthy(self, w: Worker) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{w.port}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def _wait_healthy(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        pending = list(self._workers)
        while pending and time.monotonic() < deadline:
            for w in list(pending):
                if w.proc is not None and w.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"worker {w.name} exited with {w.proc.returncode}; see {self.log_dir}")
                if self._healthy(w):
                    pending.remove(w)
            time.sleep(0.2)
        if pending:
            self.stop()
            raise RuntimeError(f"workers {[w.name for w in pending]} not healthy within {wait:.0f} s")

    def _wait_balancer(self, wait: float) -> None:
        """Until HAProxy's own health checks have marked every worker up."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                status = self.server_status()
                if len(status) == len(self._workers) and all(v == "UP" for v in status.values()):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"HAProxy did not mark the workers up within {wait:.0f} s; see {self.log_dir}")

    def _supervise(self) -> None:
        """Restart a worker that died (after a short pause if it keeps dying); HAProxy too."""
        while not self._stop.wait(0.25):
            with self._lock:
                if self._stop.is_set():
                    return
                for w in self._workers:
                    if w.proc is not None and w.proc.poll() is not None:
                        code = w.proc.returncode
                        quick_death = time.monotonic() - w.started_at < 10
                        if quick_death and w.restarts >= 3:
                            time.sleep(2)  # a worker that cannot start: do not spin
                        w.restarts += 1
                        # 1. Out of the balancer now (its own checks need ~3 s, and the restarted
                        #    worker may answer them before they fail): new students go elsewhere.
                        self._set_server_state(w, "maint")
                        self._say(f"worker {w.name} (port {w.port}) exited with {code}; restarting")
                        self._spawn(w)
                        w.rejoining = True
                        self._write_state()
                    elif w.rejoining and self._healthy(w):
                        # 2. Restarted and healthy: back in; HAProxy's checks then mark it UP.
                        self._set_server_state(w, "ready")
                        w.rejoining = False
                if self._haproxy is not None and self._haproxy.poll() is not None:
                    self._say(f"haproxy exited with {self._haproxy.returncode}; restarting")
                    self._haproxy = subprocess.Popen(
                        self._haproxy.args,
                        stdout=open(self.log_dir / "haproxy.log", "ab"),
                        stderr=subprocess.STDOUT,
                        preexec_fn=_die_with_parent,
                    )
                    self._write_state()

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        state = {
            "port": self.port,
            "haproxy_pid": self._haproxy.pid if self._haproxy else None,
            "stats_socket": str(self.stats_socket),
            "workers": [
                {
                    "name": w.name,
                    "port": w.port,
                    "pid": w.proc.pid if w.proc else None,
                    "restarts": w.restarts,
                }
                for w in self._workers
            ],
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(f"[hall] {text}", flush=True)

    # ------------------------------------------------------------------ balancer state
    def server_status(self) -> dict[str, str]:
        return server_status(self.stats_socket)

    def _set_server_state(self, w: Worker, state: str) -> None:
        """Runtime API `set server workers/<name> state ready|drain|maint` (HAProxy 2.6 management guide)."""
        try:
            runtime_command(self.stats_socket, f"set server workers/{w.name} state {state}")
        except OSError as exc:  # the balancer itself is restarting: its health checks still apply
            self._say(f"could not set {w.name} to {state} in HAProxy: {exc}")


def runtime_command(stats_socket: str | Path, command: str) -> str:
    """Send one command to HAProxy's runtime API (the stats socket) and return its answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(stats_socket))
        s.sendall(command.encode() + b"\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode()


def server_status(stats_socket: str | Path) -> dict[str, str]:
    """Each worker's state as HAProxy sees it ('UP', 'DOWN', 'MAINT', 'UP 1/2', ...), from the runtime API."""
    lines = runtime_command(stats_socket, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "workers" and row.get("svname") not in ("BACKEND", None):
            out[row["svname"]] = row["status"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or os.cpu_count() or 2))
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8501))
    ap.add_argument("--bind", default="*", help="address HAProxy listens on (default: every interface)")
    ap.add_argument("--state", type=Path, help="write workers' ports and pids as JSON here")
    args = ap.parse_args(argv)

    log_dir = ROOT / "artifacts" / "hall"
    log_dir.mkdir(parents=True, exist_ok=True)
    hall = Hall(workers=args.workers, port=args.port, bind=args.bind, state_file=args.state, log_dir=log_dir)
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        hall.start()
    except RuntimeError as exc:
        print(f"[hall] {exc}", file=sys.stderr)
        return 1
    host = "localhost" if args.bind in ("*", "0.0.0.0", "") else args.bind
    hall._say(
        f"{args.workers} workers behind HAProxy: http://{host}:{args.port} "
        f"(worker logs in {hall.log_dir}); Ctrl-C stops them all"
    )
    while not stopping.wait(0.5):
        pass
    hall._say("stopping")
    hall.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
