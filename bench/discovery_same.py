"""The fast tier gives the same findings as another revision's: a guard for speed work.

    uv run --frozen python bench/discovery_same.py            # against main
    uv run --frozen python bench/discovery_same.py --rev REV  # against git REV

Every bench corpus (bench/discovery.py: sms, mixed, mixed+1:20, mixed+1:5, dense; the shapes
corpus) and every real message under ../shared/corpora/sms/*.tsv (read in place) goes through
``detect_batch`` and, for a slice, through ``detect`` one text at a time and with a category subset,
in this checkout and in REV's ``src`` (exported with ``git archive`` to a temporary folder, run in
a child process). Exit status 1 and the first differences when any finding differs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMS_DIR = ROOT.parent / "shared" / "corpora" / "sms"
SUBSET = ("phone_mobile", "address", "name", "id_card")


def corpora() -> dict[str, list[str]]:
    sys.path.insert(0, str(ROOT / "bench"))
    import discovery as bench
    from discovery_shapes import generate_shapes
    from piguard.discovery.synth import generate

    seed = 2024
    docs = generate(1000, seed)
    out, _ = bench.speed_corpora(seed, [d.text for d in generate(3000, seed + 1)], [d.text for d in docs])
    out["shapes"] = [d.text for d in generate_shapes(2000, seed + 12)]
    out["odd"] = odd_texts()
    for f in sorted(SMS_DIR.glob("*.tsv")):
        lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        out[f.name] = [ln.split("\t", 1)[1] for ln in lines if "\t" in ln]
    return out


def odd_texts(n: int = 3000, seed: int = 5) -> list[str]:
    """Texts a scan meets that the corpora lack: emoji and lone surrogates beside PI, full-width
    and ideographic spaces, NUL and control characters, long digit runs, stray colons and plate
    heads (seeded, so both revisions read the same texts)."""
    import random

    rnd = random.Random(seed)
    pieces = [
        "手机13812345678",
        "１３８１２３４５６７８",
        "电话010-12345678转99",
        "😀",
        "\ud83d",
        "\ude00",
        "\u3000",
        "\x00",
        "\t",
        "\n",
        "身份证11010519491231002X",
        "卡号6222021234567890128",
        "京A12345",
        "fe80::1",
        "::",
        "a@b.cn",
        "＠",
        "＋86 139 1234 5678",
        "12345678901234567890123",
        "北京市朝阳区建国路88号",
        "收件人：王芳",
        "您好",
        "2024-01-01 12:30:00",
        "v1.2.3.4",
        "ｘ",
        "：",
    ]
    return ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 8))) for _ in range(n)]


def findings(texts_by_name: dict[str, list[str]]) -> dict[str, object]:
    from piguard.discovery.engine import detect, detect_batch

    res: dict[str, object] = {}
    for name, texts in texts_by_name.items():
        res[name + "/batch"] = [
            [(f.start, f.end, f.category, f.confidence) for f in fs] for fs in detect_batch(texts, ner=False)
        ]
        part = texts[:3000]
        res[name + "/per-text"] = [
            [(f.start, f.end, f.category, f.confidence) for f in detect(t, ner=False)] for t in part
        ]
        res[name + "/subset"] = [
            [tuple(f.to_dict().values()) for f in fs] for fs in detect_batch(part, SUBSET, 0.3, ner=False)
        ]
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", default="main")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        data = pickle.loads(args.child.read_bytes())
        args.child.write_bytes(pickle.dumps(findings(data)))
        return 0
    texts = corpora()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.rev, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        io = Path(tmp) / "io.pkl"
        io.write_bytes(pickle.dumps(texts))
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        subprocess.run([sys.executable, __file__, "--child", str(io)], check=True, env=env)
        theirs = pickle.loads(io.read_bytes())
    ours = findings(texts)
    bad = 0
    for key, want in theirs.items():  # type: ignore[union-attr]
        got = ours[key]
        diff = [i for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b]  # type: ignore[call-overload]
        total = sum(map(len, want))  # type: ignore[arg-type]
        print(
            f"{key:32s} {len(want):6d} texts {total:6d} findings  {'same' if not diff else f'{len(diff)} texts DIFFER'}"
        )
        for i in diff[:3]:
            print(f"    text {i}: {args.rev}={want[i]} here={got[i]}")  # type: ignore[index]
        bad += len(diff)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
