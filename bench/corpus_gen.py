"""Write the seeded synthetic Chinese/English PI corpus as JSONL: {"id", "text", "spans": [[start, end, category]]}.

    uv run python bench/corpus_gen.py --n 3000 --seed 2024 -o /tmp/pi-corpus.jsonl

The generator itself lives in ``piguard.discovery.synth`` (the tests use it too).
"""

from __future__ import annotations

import argparse
import json
import sys

from piguard.discovery.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for i, doc in enumerate(generate(args.n, args.seed)):
            out.write(json.dumps(doc.to_dict(i), ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
