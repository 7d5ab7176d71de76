from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "rights_crash.py"


@pytest.mark.obligation("O24-9.2", "O24-9.4")
def test_worker_killed_mid_request_finishes_exactly_once() -> None:
    """A short run of bench/rights_crash.py: the worker subprocess is killed with SIGKILL and restarted;
    every request completes once, each step is audited once, each target change is marked once."""
    out = subprocess.run(
        [sys.executable, str(BENCH), "--requests", "16", "--kills", "4", "--seed", "3", "--max-wait", "1.2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["ok"], figures
    assert figures["requests_done"] == 16
    assert figures["steps_audited_twice_or_more"] == 0
    assert figures["target_marks"] == figures["changing_steps"]
