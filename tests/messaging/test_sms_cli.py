"""The `piguard sms` CLI contract: review batches from a file or stdin, one JSON line out per line
in, per-line errors for bad input with the rest of the batch processed, exit status; classify-reply;
rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from piguard.cli import app

pytestmark = pytest.mark.obligation("O31-16", "O31-20", "O31-21")

runner = CliRunner()


def run(*args: str, stdin: bytes | str | None = None) -> tuple[int, list[dict[str, Any]], str]:
    result = runner.invoke(app, ["sms", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_review_file_contract(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(
        jsonl(
            {
                "id": "a",
                "text": "【京东】全场5折起，限时抢购，回T退订",
                "sender": "10690001",
                "content_provider": "jd",
            },
            {"id": 2, "text": "百家乐真人荷官，首存送彩金"},
            {"id": "c", "text": "【顺丰速运】您的快递已到驿站，取件码1234。"},
        ),
        encoding="utf-8",
    )
    code, out, err = run("review", str(path), "--no-progress")
    assert code == 0
    assert [o["id"] for o in out] == ["a", 2, "c"]
    assert all(set(o) == {"id", "verdict", "kind", "prohibited", "findings"} for o in out)
    assert (out[0]["verdict"], out[0]["kind"], out[0]["findings"]) == ("pass", "commercial", [])
    assert out[1]["verdict"] == "fail" and out[1]["prohibited"] == ["gambling"]
    finding = out[1]["findings"][0]
    assert set(finding) >= {"code", "articles", "message"}
    assert finding["articles"] == ["O31-16", "CSL-47"] and set(finding["message"]) == {"zh", "en"}
    assert out[2]["kind"] == "notification" and out[2]["verdict"] == "pass"
    assert "3 reviewed" in err and "pass 2, fail 1" in err  # the summary goes to stderr


def test_bad_lines_are_reported_and_the_rest_processed(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "ok1", "text": "【京东】全场5折，回T退订"}, ensure_ascii=False).encode()
    lines = [
        good,
        json.dumps({"id": "empty", "text": ""}).encode(),
        json.dumps({"id": "long", "text": "优" * 2000}).encode(),
        b'{"id": "utf8", "text": "\xff\xfe bad"}',
        b"this is not json",
        json.dumps({"id": "notext"}).encode(),
        json.dumps(["a", "list"]).encode(),
        json.dumps({"id": "num", "text": 42}).encode(),
        json.dumps({"id": {"x": 1}, "text": "hi"}).encode(),
        json.dumps({"id": "cp", "text": "hi", "content_provider": 5}).encode(),
        b"",
        b"   ",
        good.replace(b"ok1", b"ok2"),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, out, err = run("review", str(path), "--no-progress")
    assert code == 1
    errors = {o["line"]: o for o in out if "error" in o}
    assert {n: o["error"]["code"] for n, o in errors.items()} == {
        2: "empty_text",
        3: "text_too_long",
        4: "invalid_utf8",
        5: "invalid_json",
        6: "missing_text",
        7: "not_an_object",
        8: "invalid_text",
        9: "invalid_id",
        10: "invalid_field",
    }
    assert errors[2]["id"] == "empty" and errors[4]["id"] == "utf8" and errors[5]["id"] is None
    assert all(set(o["error"]["message"]) == {"zh", "en"} for o in errors.values())
    reviewed = [o for o in out if "verdict" in o]
    assert [o["id"] for o in reviewed] == ["ok1", "ok2"]  # blank lines skipped, the rest processed
    assert "9 errors" in err
    assert "优" * 50 not in json.dumps(out, ensure_ascii=False)  # no message text echoed in errors


def test_stdin_and_options(tmp_path: Path) -> None:
    signatures = tmp_path / "signatures.yaml"
    signatures.write_text("jd: [京东, JD]\n", encoding="utf-8")
    batch = jsonl(
        {"id": 1, "text": "【京东】全场5折，回T退订", "content_provider": "jd"},
        {"id": 2, "text": "【淘宝】全场5折，回T退订", "content_provider": "jd"},
        {"id": 3, "text": "【京东】全场5折，回T退订", "content_provider": "unknown"},
        {"id": 4, "text": "【京东】全场5折，回T退订"},
    )
    code, out, _ = run(
        "review", "-", "--signatures", str(signatures), "--explain", "--no-progress", stdin=batch
    )
    assert code == 0
    # a line without content_provider is not compared (nothing to compare with); an unknown one is
    assert [o["verdict"] for o in out] == ["pass", "fail", "fail", "pass"]
    assert out[1]["findings"][0]["code"] == "signature_mismatch"
    assert out[2]["findings"][0]["detail"] == {"content_provider": "unknown"}
    assert out[0]["signature"] == "京东" and out[0]["opt_out"] is True and out[0]["signals"]
    code, out, _ = run(
        "review", "-", "--max-length", "5", "--no-progress", stdin=jsonl({"id": 1, "text": "一二三四五六"})
    )
    assert code == 1 and out[0]["error"]["code"] == "text_too_long"


def test_progress_goes_to_stderr_not_stdout(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(
        jsonl(*({"id": i, "text": "【京东】全场5折，回T退订"} for i in range(50))), encoding="utf-8"
    )
    code, out, err = run("review", str(path))
    assert code == 0 and len(out) == 50 and "sms review" in err


def test_missing_file_and_bad_rules_dir(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sms", "review", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "not_found" in result.stderr and result.stdout == ""
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "x.yaml").write_text("category: Bad Name\n", encoding="utf-8")
    result = runner.invoke(app, ["sms", "rules", "--rules-dir", str(bad)])
    assert result.exit_code == 2 and "validation_error" in result.stderr


def test_operator_rules_dir_option(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "counterfeit_goods.txt").write_text("高仿名表\n", encoding="utf-8")
    code, out, _ = run(
        "review",
        "-",
        "--rules-dir",
        str(rules),
        "--no-progress",
        stdin=jsonl({"id": 1, "text": "【某店】高仿名表，回T退订"}),
    )
    assert out[0]["prohibited"] == ["counterfeit_goods"] and code == 0
    result = runner.invoke(app, ["sms", "rules", "--rules-dir", str(rules), "--json"])
    listed = {g["name"]: g for g in json.loads(result.stdout)["groups"]}
    assert listed["counterfeit_goods"]["terms"] == 1 and listed["counterfeit_goods"]["role"] == "prohibited"


@pytest.mark.obligation("O31-20", "O31-18.2")
def test_classify_reply_command() -> None:
    code, out, _ = run("classify-reply", "TD谢谢")
    assert code == 0 and out[0]["intent"] == "opt_out" and out[0]["token"] == "td"
    code, out, _ = run("classify-reply", "N", "--pending-consent")
    assert out[0]["intent"] == "consent_refusal" and "O31-18.2" in out[0]["reasons"][0]["obligations"]
    code, out, _ = run("classify-reply", "退订了吗?")
    assert out[0]["intent"] == "ambiguous"
    result = runner.invoke(app, ["sms", "classify-reply", "  "])
    assert result.exit_code == 2 and "validation_error" in result.stderr


def test_rules_command_lists_categories_and_counts() -> None:
    result = runner.invoke(app, ["sms", "rules"])
    assert result.exit_code == 0
    for name in ("gambling", "fraud", "pornography", "fake_documents", "commercial", "instructions"):
        assert name in result.stdout
    data = json.loads(runner.invoke(app, ["sms", "rules", "--json"]).stdout)
    assert all(g["terms"] + g["patterns"] > 0 for g in data["groups"])
    assert data["replies"]["optout_tokens"] > 10


def test_review_survives_lone_surrogates_and_deep_nesting(tmp_path: Path) -> None:
    """Issue 14.8: both crashed `sms review` with a traceback and aborted the run."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": "a", "text": "\\ud800【优品商城】会员日5折，回T退订"}\n'
        + "[" * 100_000
        + "]" * 100_000
        + '\n{"id": "b", "text": "【优品商城】您的订单已发货"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["sms", "review", str(src)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    out = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert {o.get("id") for o in out} >= {"a", "b"}
    assert (
        any("nested too deeply" in json.dumps(o, ensure_ascii=False) for o in out)
        or "nested too deeply" in result.output
    )
