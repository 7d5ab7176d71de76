"""Start-up time of the ``piguard`` command beside ``python -c pass`` (issue 10: well under a second).

Each figure is the best of ``--runs`` fresh processes, wall clock (spawn to exit) and CPU time
(user + system: steadier than wall time when the machine is busy), in two modes:

* bytecode: compiled modules, as an installed piguard has them (a private ``PYTHONPYCACHEPREFIX``,
  filled by one untimed warm-up run of each command);
* source: nothing compiled, not even the standard library (an empty ``PYTHONPYCACHEPREFIX`` and
  ``PYTHONDONTWRITEBYTECODE=1``): the worst case, e.g. a checkout on a machine that never writes
  bytecode.

Commands: ``piguard --help``; ``piguard sms check --sender … --to … --text …`` on a migrated SQLite
database (the gateway's whole decision); ``piguard scan`` of a one-line file; and ``piguard serve``
until ``/healthz`` first answers 200 on a free loopback port. Every process is bounded by
``--timeout`` seconds.

    uv run python bench/cli_start.py [--runs 5] [--serve-runs 3] [--modes bytecode,source] [--no-serve]
    uv run python bench/cli_start.py --src /tmp/old/src   # another checkout's src/, e.g. before a change

The compiled Hyperscan databases (core/hs_cache.py) go to a private cache that the bytecode mode's
warm-up run fills, as a user's first run fills theirs.

Targets: every command under 1 s with bytecode; the ratio is to ``python -c pass`` in the same mode.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_S = 1.0


def _piguard() -> list[str]:
    script = Path(sys.executable).parent / "piguard"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from piguard.cli import main; sys.argv[0] = 'piguard'; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(mode: str, prefix: Path, base: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **base, "PYTHONPYCACHEPREFIX": str(prefix)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if mode == "source":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    cpu = _cpu_children()
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # scan exits 1 when it found PI
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return elapsed, _cpu_children() - cpu


def _serve_until_healthy(env: dict[str, str], timeout: float) -> tuple[float, float]:
    """(wall seconds to the first 200, CPU seconds of the whole process, shutdown included)."""
    cpu = _cpu_children()
    wall = _serve(env, timeout)
    return wall, _cpu_children() - cpu


def _serve(env: dict[str, str], timeout: float) -> float:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: the server never blocks on its logs
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*_piguard(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            while time.perf_counter() - started < timeout:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(
                        f"piguard serve exited ({proc.returncode}): {log.read().decode()[-2000:]}"
                    )
                try:
                    with urllib.request.urlopen(url, timeout=1) as r:
                        if r.status == 200:
                            return time.perf_counter() - started
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                time.sleep(0.01)
            raise SystemExit(f"/healthz did not answer within {timeout:.0f} s")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _best(runs: int, once: Callable[..., tuple[float, float]], *args: Any) -> tuple[float, float]:
    results = [once(*args) for _ in range(runs)]
    return min(w for w, _ in results), min(c for _, c in results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="processes per figure (best is printed)")
    parser.add_argument("--serve-runs", type=int, default=3)
    parser.add_argument("--modes", default="bytecode,source")
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0, help="bound on each process (s)")
    parser.add_argument("--src", type=Path, help="import piguard from this src/ directory instead")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(modes) <= {"bytecode", "source"} or args.runs < 1:
        parser.error("--modes is bytecode and/or source; --runs at least 1")

    work = Path(tempfile.mkdtemp(prefix="piguard-cli-start-"))
    try:
        one = work / "one.txt"
        one.write_text("联系人 13800138000\n", encoding="utf-8")
        base = {
            "PIGUARD_DATABASE_URL": f"sqlite:///{(work / 'piguard.db').as_posix()}",
            "PIGUARD_DATA_DIR": str(work),
            "PIGUARD_LOG_LEVEL": "WARNING",
            "COLUMNS": "100",
            "PIGUARD_CACHE_DIR": str(work / "hs-cache"),
        }
        if args.src is not None:
            base["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(args.src.resolve()), os.environ.get("PYTHONPATH", "")) if p
            )
        piguard = _piguard()
        subprocess.run(
            [*piguard, "db", "upgrade"],
            env={**os.environ, **base},
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=args.timeout * 4,
        )
        commands: list[tuple[str, list[str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("piguard --help", [*piguard, "--help"]),
            (
                "piguard sms check --sender … --to … --text …",
                [
                    *piguard,
                    "sms",
                    "check",
                    "--sender",
                    "1069000101",
                    "--to",
                    "13800138000",
                    "--text",
                    "【优品】您好",
                ],
            ),
            ("piguard scan ONE-LINE-FILE", [*piguard, "scan", str(one)]),
        ]
        where = f" from {args.src}" if args.src else ""
        print(
            f"piguard{where} start-up, best of {args.runs} runs ({args.serve_runs} for serve); "
            f"target < {TARGET_S:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print(
            f"{'mode':<9} {'command':<44} {'wall s':>7} {'x pass':>7} {'cpu s':>7} {'x pass':>7}  target (wall)"
        )
        for mode in modes:
            prefix = work / f"pyc-{mode}"
            prefix.mkdir()
            env = _env(mode, prefix, base)
            baseline = None
            for label, cmd in commands:
                if mode == "bytecode":
                    _run(cmd, env, args.timeout)  # warm-up: writes the bytecode (source mode writes none)
                seconds = _best(args.runs, _run, cmd, env, args.timeout)
                baseline = seconds if baseline is None else baseline
                _print(mode, label, seconds, baseline, is_baseline=label.startswith("python"))
            if not args.no_serve:
                if mode == "bytecode":
                    _serve_until_healthy(env, args.timeout)
                seconds = _best(args.serve_runs, _serve_until_healthy, env, args.timeout)
                _print(mode, "piguard serve -> first 200 from /healthz", seconds, baseline or seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _print(
    mode: str,
    label: str,
    seconds: tuple[float, float],
    baseline: tuple[float, float],
    *,
    is_baseline: bool = False,
) -> None:
    wall, cpu = seconds
    target = "baseline" if is_baseline else ("met" if wall < TARGET_S else "NOT met")
    if mode == "source" and not is_baseline:
        target = "(no bytecode)"
    print(
        f"{mode:<9} {label:<44} {wall:7.3f} {wall / baseline[0]:7.1f} {cpu:7.3f} {cpu / max(baseline[1], 1e-3):7.1f}"
        f"  {target}",
        flush=True,
    )


if __name__ == "__main__":
    main()
