"""Addresses with no division word before them (issue 12): ``朝阳路88号3单元``, ``中关村大街27号``.

A generator of its own (road names, numbers, the parts after the number, the words around them, and
hard negatives: metro lines, dates, player and seat numbers, fares, the word 路 in running text),
written before the recogniser and measured on a seed the recogniser was not looked at with
(``--seed``, default 101; seed 1 was the one looked at while writing it). Beside it, what the change
does on real text: address findings on the CLUENER2020 split (with its gold addresses: precision)
and on the `mixed` SMS corpus (bench/discovery.py; real messages with digits restored, no gold:
the findings are counted and the new ones listed by shape, never by value, for a reader to judge).

    .venv/bin/python bench/discovery_streets.py --baseline REV     # before (git REV) and after
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from piguard.discovery.engine import detect_batch
from piguard.discovery.synth import Doc, Tally, _Builder, score

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
CLUENER = ROOT.parent / "shared" / "corpora" / "ner" / "cluener-train.jsonl"  # evaluation only

STEMS = ["朝阳", "中关村", "人民", "解放", "建设", "和平", "新华", "光明", "黄河", "长江", "科技", "学府",
         "滨河", "望京", "东风", "胜利", "青年", "幸福", "工农", "迎宾", "文化", "育才", "友谊", "金融",
         "南京", "天山", "桂林", "淮海", "延安", "复兴", "石门", "体育", "环城", "白石", "宝安", "深南",
         "华强", "梅林", "龙华", "五四", "太平", "团结", "花园", "前进", "红旗", "沿江", "香山", "平安",
         "景田", "莲花", "中山", "北辰", "西单", "安定门", "建国门外", "广渠门内", "翠微", "三里河"]  # fmt: skip
DIRS = ["", "", "", "东", "西", "南", "北", "中", "一", "二", "三"]
TYPES = ["路", "路", "路", "路", "街", "大街", "大道", "巷", "胡同"]
ESTATE = ["阳光花园", "幸福里小区", "万科城", "锦绣家园", "华府", "金地名苑", "海景公寓", "国贸大厦"]
BEFORE = ["", "", "我住", "快递放", "送到", "寄到", "店在", "公司在", "我家在", "麻烦送", "就在", "明天来",
          "发到", "位置：", "收货：", "配送至", "搬到了"]  # fmt: skip
AFTER = ["", "，谢谢", "，电话联系", "门口", "楼下", "附近", "，到了打电话", "。", " 送货上门", "的快递柜",
         "（王女士收）", "，周末送", "旁边的便利店", "对面"]  # fmt: skip
NEGATIVES = [
    "坐地铁{n}号线到站",
    "换乘{n}号线",
    "{m}月{d}号见",
    "本周{d}号交货",
    "{n}号选手晋级",
    "请{n}号顾客到窗口",
    "{n}号技师为您服务",
    "一路顺风，{m}月{d}号回来",
    "路费{n}元",
    "马路上堵了{n}分钟",
    "走了{n}公里山路",
    "{n}路公交车",
    "乘{n}路车到终点",
    "座位{n}排{d}号",
    "{n}号球衣",
    "我们一路走到{n}号门",
    "线路{n}号故障",
    "这条街有{n}家店",
    "大道至简，{n}号发布",
]


def street_address(r: Any) -> str:
    """A road and number, then sometimes the estate, building, unit and room: no division before."""
    road = r.choice(STEMS) + r.choice(DIRS) + r.choice(TYPES)
    k = r.random()
    number = (
        f"{r.randint(1, 999)}号"
        if k < 0.7
        else f"{r.randint(1, 300)}-{r.randint(1, 20)}号"
        if k < 0.8
        else f"{r.randint(1, 400)}弄{r.randint(1, 60)}号"
        if k < 0.9
        else f"{r.choice('一二三四五六七八九')}十{r.choice('一二三四五六七八九')}号"
    )
    tail = r.random()
    if tail < 0.35:
        rest = ""
    elif tail < 0.55:
        rest = f"{r.randint(1, 12)}单元"
    elif tail < 0.75:
        rest = f"{r.randint(1, 30)}栋{r.randint(1, 6)}单元{r.randint(101, 2605)}室"
    elif tail < 0.9:
        rest = r.choice(ESTATE) + f"{r.randint(1, 30)}号楼{r.randint(101, 1805)}"
        rest = rest if r.random() < 0.5 else rest + "室"
    else:
        rest = f"{r.randint(2, 40)}楼"
    return road + number + rest


def street_doc(r: Any) -> Doc:
    b = _Builder()
    if r.random() < 0.3:
        b.add(r.choice(NEGATIVES).format(n=r.randint(1, 99), m=r.randint(1, 12), d=r.randint(1, 28)) + "，")
    shape = r.random()
    if shape < 0.6:  # prose
        b.add(r.choice(BEFORE))
        b.pi(street_address(r), "address")
        b.add(r.choice(AFTER))
    elif shape < 0.75:  # JSON and CSV cells with a field name that says nothing of an address
        b.add('{"note":"')
        b.pi(street_address(r), "address")
        b.add(f'","qty":{r.randint(1, 9)}}}')
    elif shape < 0.85:
        b.add(f"{r.randint(1000, 9999)},")
        b.pi(street_address(r), "address")
        b.add(f",{r.randint(1, 9)}")
    else:  # a hard negative alone
        b.add(r.choice(NEGATIVES).format(n=r.randint(1, 99), m=r.randint(1, 12), d=r.randint(1, 28)))
    return b.doc()


def generate_streets(n: int, seed: int) -> list[Doc]:
    import random

    r = random.Random(seed)
    return [street_doc(r) for _ in range(n)]


def _addresses(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    return [
        [(f.start, f.end, f.category) for f in fs if f.category == "address"]
        for fs in detect_batch(texts, categories=["address"])
    ]


def _shape(s: str) -> str:
    """A finding's shape, never its value: digits as 9, Chinese characters as 字 except address words."""
    s = re.sub(r"\d+", "9", s)
    return re.sub(r"[^\x00-\x7f路街巷道弄号栋单元室楼层院区市县省镇村]", "字", s)


def figures(n: int, seed: int) -> dict[str, Any]:
    docs = generate_streets(n, seed)
    strict, overlap = Tally(), Tally()
    for d, found in zip(docs, _addresses([d.text for d in docs]), strict=True):
        gold = set(d.spans)
        strict.tp += len(gold & set(found))
        strict.fp += len(set(found) - gold)
        strict.fn += len(gold - set(found))
        tallies: dict[str, Tally] = {}
        score(d.spans, found, tallies, {"address"})
        t = tallies.get("address", Tally())
        overlap.tp += t.tp
        overlap.fp += t.fp
        overlap.fn += t.fn
    out: dict[str, Any] = {
        "held_out": {
            k: {"p": t.precision, "r": t.recall, "f1": t.f1, "tp": t.tp, "fp": t.fp, "fn": t.fn}
            for k, t in (("strict", strict), ("overlap", overlap))
        }
    }
    if CLUENER.is_file():
        texts, gold = [], []
        for line in CLUENER.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            texts.append(rec["text"])
            gold.append(
                [
                    (a, b + 1, "address")
                    for v in rec.get("label", {}).get("address", {}).values()
                    for a, b in v
                ]
            )
        t = Tally()
        for g, p in zip(gold, _addresses(texts), strict=True):
            tallies = {}
            score(g, p, tallies, {"address"})
            x = tallies.get("address", Tally())
            t.tp, t.fp, t.fn = t.tp + x.tp, t.fp + x.fp, t.fn + x.fn
        out["cluener"] = {"lines": len(texts), "tp": t.tp, "fp": t.fp, "p": t.precision, "r": t.recall}
    from discovery import restored_sms, sms_corpus

    sms = sms_corpus()
    if sms:
        mixed = restored_sms(sms, 2024)
        found = _addresses(mixed)
        out["mixed"] = {
            "messages": len(mixed),
            "findings": sum(len(f) for f in found),
            "spans": sorted(f"{i}:{_shape(mixed[i][a:b])}" for i, fs in enumerate(found) for a, b, _ in fs),
        }
    return out


def baseline(rev: str, n: int, seed: int) -> dict[str, Any]:
    """This script on the engine at git ``rev`` (its ``src`` exported by git archive)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        cmd = [sys.executable, __file__, "--n", str(n), "--seed", str(seed), "--json", str(out)]
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out.read_text(encoding="utf-8"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--baseline", metavar="REV")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    after = figures(args.n, args.seed)
    if args.json:
        args.json.write_text(json.dumps(after, ensure_ascii=False), encoding="utf-8")
        return 0
    before = baseline(args.baseline, args.n, args.seed) if args.baseline else None
    print(f"addresses with no division word, {args.n} held-out documents (seed {args.seed}):")
    for key in ("strict", "overlap"):
        row = f"  {key:8s}"
        for label, fig in (("before", before), ("after", after)):
            if fig:
                h = fig["held_out"][key]
                row += f"  {label} {h['f1']:.3f} (P {h['p']:.3f} / R {h['r']:.3f})"
        print(row)
    if "cluener" in after:
        for label, fig in (("before", before), ("after", after)):
            if fig:
                c = fig["cluener"]
                print(
                    f"  CLUENER {c['lines']} lines, address findings overlapping gold / not: "
                    f"{c['tp']} / {c['fp']} (P {c['p']:.3f}, R {c['r']:.3f})  [{label}]"
                )
    if "mixed" in after:
        for label, fig in (("before", before), ("after", after)):
            if fig:
                print(
                    f"  mixed SMS ({fig['mixed']['messages']} messages): {fig['mixed']['findings']} address findings [{label}]"
                )
        if before:
            new = sorted(set(after["mixed"]["spans"]) - set(before["mixed"]["spans"]))
            gone = sorted(set(before["mixed"]["spans"]) - set(after["mixed"]["spans"]))
            print(f"  mixed: {len(new)} findings new, {len(gone)} changed or gone; new ones by shape:")
            for s in new:
                print("    +", s)
            for s in gone:
                print("    -", s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
