"""Benchmark: ``raybot diagnose`` against ``ray status`` on the same local cluster, side by side.

Target (issue 5): diagnose takes at most 2x the wall time of ``ray status``. Both are timed as
fresh processes, the way a user runs them (interpreter start, imports, talking to the cluster,
printing), alternating, after one warm-up run each.

    python benchmarks/bench_diagnose.py                 # starts a 2-CPU cluster with idle workers
    python benchmarks/bench_diagnose.py --address HOST:PORT --runs 10

``raybot diagnose`` is run as ``python -m raybot diagnose``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).with_name("ray"))
WORKLOAD = """
import ray
ray.init(address=ADDRESS, logging_level="ERROR")
@ray.remote(num_cpus=0.5)
def step(i):
    import time
    time.sleep(0.3)
    return i
ray.get([step.remote(i) for i in range(6)])
"""


def diagnose_command(env: dict) -> list[str]:
    return [sys.executable, "-m", "raybot", "diagnose"]


def timed(cmd: list[str], env: dict) -> tuple[float, int]:
    started = time.perf_counter()
    out = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300
    )
    elapsed = time.perf_counter() - started
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {out.returncode}:\n{out.stderr[-2000:]}")
    return elapsed, out.returncode


def summary(name: str, xs: list[float]) -> str:
    return (
        f"{name:<28} median {statistics.median(xs):6.2f}s   min {min(xs):6.2f}s   max {max(xs):6.2f}s   (n={len(xs)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="an existing cluster's GCS address (default: start one)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    cluster = None
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    address = args.address
    if address is None:
        sys.path.insert(0, str(ROOT / "tests"))
        import raycluster

        print(
            "starting a local 2-CPU cluster (kill_idle_workers_interval_ms=0, like the seed user's) ...",
            file=sys.stderr,
        )
        cluster = raycluster.start_head(num_cpus=2, system_config={"kill_idle_workers_interval_ms": 0})
        cluster.run_script(WORKLOAD)
        address = cluster.address
        env = dict(cluster.env, PYTHONPATH=env["PYTHONPATH"])
    # diagnose records a thread: keep the benchmark's out of the user's own store
    home = tempfile.mkdtemp(prefix="raybot-bench-home-")
    env["RAYBOT_HOME"] = home
    try:
        status_cmd = [RAY, "status", "--address", address]
        diag_cmd = diagnose_command(env) + ["--address", address]
        json_cmd = diag_cmd + ["--json"]
        local_cmd = diag_cmd + ["--local-only"]
        nologs_cmd = diag_cmd + ["--no-logs"]
        for cmd in (status_cmd, diag_cmd):  # warm-up (page cache, dashboard first requests)
            timed(cmd, env)
        names = (
            "ray status",
            "raybot diagnose",
            "raybot diagnose --json",
            "raybot diagnose --local-only",
            "raybot diagnose --no-logs",
        )
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.runs):
            times["ray status"].append(timed(status_cmd, env)[0])
            times["raybot diagnose"].append(timed(diag_cmd, env)[0])
            times["raybot diagnose --json"].append(timed(json_cmd, env)[0])
            times["raybot diagnose --local-only"].append(timed(local_cmd, env)[0])
            times["raybot diagnose --no-logs"].append(timed(nologs_cmd, env)[0])
        print(f"cluster {address}, {os.cpu_count()} CPUs on this machine, Python {sys.version.split()[0]}")
        how = (
            "python -m raybot diagnose"
            if "-m" in diag_cmd[:2]
            else "python -c <a one-command Typer app around raybot.commands.diagnose.diagnose>"
        )
        print(f"diagnose runs as: {how}")
        for name, xs in times.items():
            print(summary(name, xs))
        base = statistics.median(times["ray status"])
        for name in names[1:]:
            ratio = statistics.median(times[name]) / base
            print(f"{name:<28} / ray status = {ratio:.2f}x  ({'within' if ratio <= 2.0 else 'OVER'} the 2x target)")
        return 0
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
