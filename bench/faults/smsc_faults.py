"""Fault: the SMS centre throttles and goes away.

    uv run python bench/faults/smsc_faults.py [--backend sqlite|postgresql] [--messages 1000]
                                             [--throttle-every 7] [--outage 4]

Queues ``--messages`` notices, starts ``piguard sms smpp-serve`` bound to the fault SMS centre,
which answers every ``--throttle-every``-th submit_sm ESME_RTHROTTLED and, once a third of the
messages have arrived, goes away for ``--outage`` seconds (links closed, nothing listening) and
comes back. Throttling and the lost link are transient: every message must reach the centre after
it returns, none recorded failed. Prints ``accepted N, lost 0, duplicated 0, sent-twice K (bound
B)`` with B = the window (the messages in flight when the link dropped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def run(
    backend: str,
    messages: int,
    throttle_every: int = 7,
    outage: float = 4.0,
    window: int = 10,
    timeout: float = 120,
) -> dict[str, int]:
    smsc = common.FaultSmsc()
    smsc.throttle_every = throttle_every
    try:
        with common.fresh_database(backend) as url:
            common.prepare(url)
            accepted = common.enqueue(0, messages)
            env = common.dispatcher_env(url, PIGUARD_SMPP_UPSTREAM_WINDOW=str(window))
            proc = common.start_dispatcher(env, smsc.port)
            try:
                outages = 0
                if outage > 0:
                    common.wait_until(
                        lambda: smsc.delivered >= accepted // 3 or proc.poll() is not None, timeout
                    )
                    smsc.outage(outage)
                    outages = 1
                common.wait_until(
                    lambda: not ({"queued", "sending"} & {s for s, c in common.outbox_status().items() if c}),
                    timeout,
                    0.2,
                )
            finally:
                common.stop(proc)
            st = common.outbox_status()
            f = common.figures(
                "SMS centre throttling + outage",
                backend,
                accepted,
                smsc,
                window * outages,
                f"; {smsc.throttled} submit_sm throttled, {outage:g} s outage; outbox {dict(st)}",
            )
            f["failed"] = st.get("failed", 0)
            return f
    finally:
        smsc.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--throttle-every", type=int, default=7)
    ap.add_argument("--outage", type=float, default=4.0)
    ap.add_argument("--window", type=int, default=10)
    a = ap.parse_args()
    f = run(a.backend, a.messages, a.throttle_every, a.outage, a.window)
    ok = f["lost"] == 0 and f["duplicated"] == 0 and f["failed"] == 0 and f["sent_twice"] <= f["bound"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
