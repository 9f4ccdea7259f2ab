"""`make bench-hall`: a lecture (benchmarks/lecture.py, Locust) against one `streamlit run` and a hall.

Runs, in one go on this machine and on loopback only:
- 40 and 80 students against a single `streamlit run` (what `make run` starts);
- the same against `make hall` with 2 workers (deploy/hall.py: HAProxy + 2 workers);
- the fault run: the 40-student hall run again, with worker w1 killed (SIGKILL) halfway.

Students arrive over 10 s; each run lasts DURATION seconds (Locust's -t, so it
stops by itself). Every server is warmed first (one session opens each page of
the lecture mix on each worker: a lecturer opens the app before class). Per
run: p50/p95/p99 of change -> script finished (exact, from every change),
failed changes, opens/reconnects, and per worker (or the single process) CPU
seconds, mean CPU in % of one core, and peak RSS. The fault run adds how long
the balancer took to mark the dead worker down, where the failures were, and
whether every student who lost its worker got its view back. The load
average of the machine is printed with each run, since others may share it.

    python -m benchmarks.bench_hall [DURATION] [--only single|hall|fault] [--students 40,80]

Results also go to artifacts/bench-hall.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import pct, table  # noqa: E402
from benchmarks.lecture_mix import LECTURE_MIX  # noqa: E402
from benchmarks.wsclient import SyncSession, rss_mb  # noqa: E402
from deploy.hall import Hall, server_status  # noqa: E402
from tests.server import free_port, start_streamlit  # noqa: E402

LOCUST = str(Path(sys.executable).with_name("locust"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def warm(ports: list[int]) -> None:
    """Open every page of the mix once on every worker (imports, caches), as a lecturer would before class."""
    for port in ports:
        s = SyncSession(f"http://127.0.0.1:{port}")
        s.connect()
        for page in LECTURE_MIX:
            for _ in range(2):  # the first run of a fresh server reruns through the router
                s.run(page, timeout=120)
        s.close()


class Sampler:
    """CPU seconds and peak RSS of named processes, sampled every 0.5 s while a run lasts."""

    def __init__(self, pids: dict[str, int]):
        self.pids = dict(pids)
        self.cpu0 = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.cpu_done = {n: 0.0 for n in self.pids}  # CPU of processes that died (fault run)
        self.peak = {n: rss_mb(p) for n, p in self.pids.items()}
        self.last_cpu = dict(self.cpu0)
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def replace(self, name: str, pid: int) -> None:
        """A restarted worker: bank the old process's CPU and follow the new one."""
        self.cpu_done[name] += self.last_cpu[name] - self.cpu0[name]
        self.pids[name] = pid
        self.cpu0[name] = self.last_cpu[name] = cpu_seconds(pid)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            for n, p in list(self.pids.items()):
                c = cpu_seconds(p)
                if c:
                    self.last_cpu[n] = c
                self.peak[n] = max(self.peak[n], rss_mb(p))

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join()
        wall = time.monotonic() - self.t0
        out = {}
        for n, p in self.pids.items():
            cpu = self.cpu_done[n] + (cpu_seconds(p) or self.last_cpu[n]) - self.cpu0[n]
            out[n] = {"cpu_s": cpu, "cpu_pct": 100 * cpu / wall, "peak_rss_mb": self.peak[n]}
        return out


def run_locust(url: str, students: int, duration: int, workdir: Path, tag: str) -> tuple[list[dict], dict]:
    """Locust headless against `url`; returns every change (from LECTURE_OUT) and Locust's stats rows."""
    out = workdir / f"{tag}.jsonl"
    prefix = workdir / tag
    subprocess.run(
        [
            LOCUST,
            "-f",
            str(ROOT / "benchmarks" / "lecture.py"),
            "--headless",
            "-u",
            str(students),
            "-r",
            str(students / 10),  # arrival over 10 s
            "-t",
            f"{duration}s",
            "--stop-timeout",
            "10",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=workdir,
        env={**os.environ, "LECTURE_OUT": str(out)},
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{tag}.log", "w"),
        timeout=duration + 120,
        check=False,  # Locust exits 1 when any request failed; the numbers say which
    )
    events = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    stats = {}
    stats_csv = Path(f"{prefix}_stats.csv")
    if stats_csv.exists():
        import csv

        for row in csv.DictReader(stats_csv.open()):
            stats[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
            }
    return events, stats


def reference_seconds() -> float:
    """benchmarks.heavy's fixed single-thread workload (0.33 s on a quiet host), in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", "from benchmarks.heavy import reference_seconds as r; print(r())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def summarize(target: str, students: int, events: list[dict], stats: dict, procs: dict, load: str) -> dict:
    changes = [e for e in events if e.get("kind") == "change"]
    ok = [c["s"] for c in changes if c["ok"]]
    served = sum(e["ok"] for e in events)  # opens, changes and reconnects that finished
    server_cpu = sum(p["cpu_s"] for name, p in procs.items() if name != "haproxy")
    return {
        "target": target,
        "students": students,
        "changes": len(changes),
        "failed": sum(not c["ok"] for c in changes),
        "p50_ms": 1000 * pct(ok, 50) if ok else float("nan"),
        "p95_ms": 1000 * pct(ok, 95) if ok else float("nan"),
        "p99_ms": 1000 * pct(ok, 99) if ok else float("nan"),
        "opens": stats.get("open", {}).get("requests", 0),
        "open_failures": stats.get("open", {}).get("failures", 0),
        "reconnects": stats.get("reconnect", {}).get("requests", 0),
        "reconnect_failures": stats.get("reconnect", {}).get("failures", 0),
        "procs": procs,
        "load_before": load,
        "cpu_ms_per_run": 1000 * server_cpu / served if served else float("nan"),
        "reference_s": reference_seconds(),
        "events": events,
    }


def bench_single(students: int, duration: int, workdir: Path) -> dict:
    port = free_port()
    proc = start_streamlit(port)
    try:
        warm([port])
        load = load_average()
        sampler = Sampler({"streamlit": proc.pid})
        changes, stats = run_locust(
            f"http://127.0.0.1:{port}", students, duration, workdir, f"single-{students}"
        )
        return summarize("single `streamlit run`", students, changes, stats, sampler.stop(), load)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_hall(students: int, duration: int, workdir: Path, fault: bool = False) -> dict:
    hall = Hall(workers=2, port=free_port(), bind="127.0.0.1", quiet=True, log_dir=workdir).start()
    try:
        warm([w.port for w in hall._workers])
        load = load_average()
        pids = {w.name: w.proc.pid for w in hall._workers}
        sampler = Sampler({**pids, "haproxy": hall._haproxy.pid})
        fault_info: dict = {}
        killer = None
        if fault:

            def kill_halfway() -> None:
                time.sleep(10 + (duration - 10) / 2)  # all arrived, halfway through the rest
                victim = hall._workers[0]
                t_kill = time.time()
                os.kill(victim.proc.pid, signal.SIGKILL)
                down = None
                while time.time() - t_kill < 30:
                    if server_status(hall.stats_socket).get(victim.name, "").startswith(("DOWN", "MAINT")):
                        down = time.time() - t_kill
                        break
                    time.sleep(0.05)
                up = None
                while time.time() - t_kill < 90:
                    if (
                        victim.proc.pid != pids[victim.name]
                        and server_status(hall.stats_socket).get(victim.name) == "UP"
                    ):
                        up = time.time() - t_kill
                        break
                    time.sleep(0.2)
                if victim.proc.pid != pids[victim.name]:
                    sampler.replace(victim.name, victim.proc.pid)
                fault_info.update(worker=victim.name, t_kill=t_kill, down_after_s=down, back_up_after_s=up)

            killer = threading.Thread(target=kill_halfway, daemon=True)
            killer.start()
        tag = f"hall2-{students}" + ("-fault" if fault else "")
        events, stats = run_locust(f"http://127.0.0.1:{hall.port}", students, duration, workdir, tag)
        if killer is not None:
            killer.join(timeout=120)
        target = "hall, 2 workers" + (", w1 killed halfway" if fault else "")
        row = summarize(target, students, events, stats, sampler.stop(), load)
        if fault:
            t_kill, dead = fault_info["t_kill"], fault_info["worker"]
            for kind in ("change", "open"):
                failed = [e for e in events if e.get("kind") == kind and not e["ok"]]
                # on the dead worker's connections: in flight at the kill, or sent on the closed websocket
                # before the student's tab noticed (a browser would reconnect instead of sending)
                in_flight = sum(e["worker"] in (dead, None) and e["t"] >= t_kill - 60 for e in failed)
                fault_info[f"{kind}s_failed_in_flight_on_dead"] = in_flight
                fault_info[f"{kind}s_failed_elsewhere"] = len(failed) - in_flight
            row["fault"] = fault_info
        return row
    finally:
        hall.stop()


def report(rows: list[dict]) -> None:
    print(f"\n## Lecture (Locust, benchmarks/lecture.py): change -> finished, ms; {os.cpu_count()} cores\n")
    print(
        table(
            [
                "target",
                "students",
                "changes",
                "failed",
                "p50",
                "p95",
                "p99",
                "opens (failed)",
                "reconnects (failed)",
                "server CPU ms / run",
                "load avg before",
                "reference s",
            ],
            [
                [
                    r["target"],
                    r["students"],
                    r["changes"],
                    r["failed"],
                    r["p50_ms"],
                    r["p95_ms"],
                    r["p99_ms"],
                    f"{r['opens']} ({r['open_failures']})",
                    f"{r['reconnects']} ({r['reconnect_failures']})",
                    r["cpu_ms_per_run"],
                    r["load_before"],
                    r["reference_s"],
                ]
                for r in rows
            ],
        )
    )
    print("\n## Per process: CPU seconds over the run, mean CPU (% of one core), peak RSS MB\n")
    print(
        table(
            ["target", "students", "process", "CPU s", "CPU %", "peak RSS MB"],
            [
                [r["target"], r["students"], name, p["cpu_s"], p["cpu_pct"], p["peak_rss_mb"]]
                for r in rows
                for name, p in r["procs"].items()
            ],
        )
    )
    for r in rows:
        if "fault" in r:
            f = r["fault"]
            print(
                f"\nFault run: {f['worker']} killed; balancer marked it down after "
                f"{f['down_after_s'] or float('nan'):.2f} s, back up after {f['back_up_after_s'] or float('nan'):.1f} s; "
                f"failed changes: {f['changes_failed_in_flight_on_dead']} on {f['worker']}'s connections, "
                f"{f['changes_failed_elsewhere']} elsewhere; failed page opens: "
                f"{f['opens_failed_in_flight_on_dead']} in flight on {f['worker']} or not yet placed, "
                f"{f['opens_failed_elsewhere']} elsewhere; reconnects {r['reconnects']}, "
                f"view lost or failed {r['reconnect_failures']}."
            )
    ok = [r for r in rows if "fault" not in r and r["failed"] == 0 and r["p95_ms"] <= 1000]
    for target in sorted({r["target"] for r in rows if "fault" not in r}):
        best = max((r["students"] for r in ok if r["target"] == target), default=0)
        per = (
            f"{best / 2:.0f} per core (2 workers on 2 cores)" if target.startswith("hall") else "one process"
        )
        print(f"\n{target}: p95 <= 1 s with 0 failures up to {best} students of those tested ({per})")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("duration", nargs="?", type=int, default=60)
    ap.add_argument("--only", choices=["single", "hall", "fault"])
    ap.add_argument("--students", default="40,80")
    ap.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run this driver, and so every server and Locust it starts, at this nice value "
        "(e.g. -10 as root, to approximate a dedicated machine on a shared one; say so with the figures)",
    )
    args = ap.parse_args(argv)
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # children inherit it
    print(f"nice {os.getpriority(os.PRIO_PROCESS, 0)}, load average {load_average()} at start")
    counts = [int(n) for n in args.students.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    rows = []
    if args.only in (None, "single"):
        rows += [bench_single(n, args.duration, workdir) for n in counts]
    if args.only in (None, "hall"):
        rows += [bench_hall(n, args.duration, workdir) for n in counts]
    if args.only in (None, "fault"):
        rows.append(bench_hall(40, args.duration, workdir, fault=True))
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "bench-hall.json").write_text(json.dumps(rows, indent=1))  # before the report can fail
    report(rows)
    print(f"\nLocust logs and CSVs: {workdir}")
    return rows


if __name__ == "__main__":
    main()
