"""Keyword and pattern sets are data: operators extend them without code (O31-16, CSL-47
"content filter ... updatable"), through PIGUARD_SMS_RULES_DIR or --rules-dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from piguard import _native
from piguard.core.errors import PiguardError
from piguard.messaging.review import clear_rules_cache, default_reviewer, load_rules, review
from piguard.messaging.review.rules import RULES_DIR_ENV
from piguard.messaging.subscriptions.replies import ReplyIntent, classify_reply

pytestmark = pytest.mark.obligation("O31-16", "CSL-47")


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_rules_compile_once() -> None:
    assert load_rules() is load_rules()
    rules = load_rules()
    names = {g.name for g in rules.groups if g.role == "prohibited"} | set(rules.verdicts)
    assert {"fraud", "gambling", "pornography", "fake_documents", "illegal_goods", "pi_trading"} <= names
    # every signal names its category and obligations
    signals = [g for g in rules.groups if g.role == "signal"]
    assert signals and all(g.category and g.articles for g in signals)
    assert rules.backend in {"native", "hyperscan", "pyahocorasick"}


def test_txt_file_adds_a_new_category(tmp_path: Path) -> None:
    write(tmp_path, "counterfeit_goods.txt", "# operator list\n高仿名表\n莆田 鞋\t0.5\n原单\t0.5\n")
    rules = load_rules([tmp_path])
    text = "【某店】高仿名表一比一，回T退订"
    assert review(text, rules=rules).prohibited == ("counterfeit_goods",)
    assert review(text).prohibited == ()  # built-ins alone: not prohibited
    # weights: two weak terms together reach the threshold; the separator in "莆田 鞋" is normalised away
    assert review("【某店】莆田鞋原单到货，回T退订", rules=rules).prohibited == ("counterfeit_goods",)
    assert review("【某店】莆田鞋到货，回T退订", rules=rules).prohibited == ()
    finding = next(f for f in review(text, rules=rules).findings if f.code == "prohibited_content")
    assert finding.articles == ("O31-16", "CSL-47")


def test_yaml_extends_an_existing_category_and_kinds(tmp_path: Path) -> None:
    write(
        tmp_path,
        "local.yaml",
        """
prohibited:
  - category: gambling
    strong: [赢钱棋牌新平台]
  - category: medical_ads
    label: {en: unlicensed medical advertising, zh: 违法医疗广告}
    articles: [O31-16, CSL-47]
    strong: [包治百病, 根治糖尿病]
    patterns:
      - id: cure_rate
        regex: '治愈率[0-9]+'
        triggers: [治愈率]
kinds:
  commercial:
    strong: [尾货处理]
""",
    )
    rules = load_rules([tmp_path])
    assert review("赢钱棋牌新平台上线", rules=rules).prohibited == ("gambling",)
    assert review("本院治愈率99%，欢迎咨询", rules=rules).prohibited == ("medical_ads",)
    med = next(f for f in review("包治百病", rules=rules).findings if f.code == "prohibited_content")
    assert med.message_zh == "含有禁止传播的内容（违法医疗广告）。"
    assert review("【某店】尾货处理", rules=rules).kind == "commercial"
    assert review("【某店】尾货处理").kind == "notification"


def test_reply_tokens_and_variants_extend_too(tmp_path: Path) -> None:
    write(tmp_path, "replies.yaml", "replies:\n  optout_tokens: [bye]\n")
    write(tmp_path, "variants.txt", "徳 德\n")
    write(tmp_path, "extra.txt", "德式高仿\n")
    rules = load_rules([tmp_path])
    assert classify_reply("BYE", rules=rules).intent is ReplyIntent.OPT_OUT
    assert classify_reply("BYE").intent is ReplyIntent.NONE
    assert review("徳式高仿", rules=rules).prohibited == ("extra",)


def test_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "counterfeit_goods.txt", "高仿名表\n")
    assert review("高仿名表").prohibited == ()
    monkeypatch.setenv(RULES_DIR_ENV, str(tmp_path))
    assert review("高仿名表").prohibited == ("counterfeit_goods",)
    assert default_reviewer() is default_reviewer()  # compiled once for this setting
    monkeypatch.delenv(RULES_DIR_ENV)
    assert review("高仿名表").prohibited == ()


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("bad.yaml", "prohibited: [{category: x, patterns: [{regex: '(unclosed'}]}]", "pattern"),
        ("bad.yaml", "category: Bad Name\nstrong: [a]\n", "category"),
        ("bad.yaml", "replies:\n  grant_tokens: [yes]\n", "quote it"),
        ("bad.yaml", "kinds:\n  spam: {strong: [a]}\n", "unknown message kind"),
        ("bad.yaml", "category: x\nthreshold: -1\n", "positive"),
        ("bad.yaml", "surprise: 1\n", "unknown keys"),
        ("bad.yaml", "a: [unclosed\n", "YAML"),
        ("bad.yaml", "- a list\n", "mapping"),
        # a second patterns: replaced the first without a word, moving a pattern to another signal
        ("bad.yaml", "category: x\nstrong: [a]\nstrong: [b]\n", "duplicate key 'strong'"),
        # an unquoted comma in a flow mapping cut the label short and made a stray key
        (
            "bad.yaml",
            "category: x\nlabel: {en: fake certificates, seals, zh: 假证}\nstrong: [a]\n",
            "quote a label",
        ),
        ("bad.yaml", "category: x\nlabel: forged\nstrong: [a]\n", "'label'"),
        ("bad.txt", "term\tnot-a-number\n", "not a number"),
        ("variants.txt", "ab c\n", "one character"),
    ],
)
def test_bad_rules_files_are_clear_errors(tmp_path: Path, name: str, text: str, needle: str) -> None:
    write(tmp_path, name, text)
    with pytest.raises(PiguardError) as e:
        load_rules([tmp_path])
    assert e.value.code == "validation_error"
    assert needle in e.value.message_en and name in e.value.message_en


def test_not_utf8_and_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PiguardError, match="UTF-8"):
        load_rules([tmp_path])
    with pytest.raises(PiguardError, match="not a directory"):
        load_rules([tmp_path / "missing"])


def test_clear_cache_reloads_edited_files(tmp_path: Path) -> None:
    write(tmp_path, "extra.txt", "甲乙丙丁\n")
    first = load_rules([tmp_path])
    write(tmp_path, "extra.txt", "戊己庚辛\n")
    assert load_rules([tmp_path]) is first
    clear_rules_cache()
    second = load_rules([tmp_path])
    assert second is not first and review("戊己庚辛", rules=second).prohibited == ("extra",)


def test_both_matchers_agree() -> None:
    pytest.importorskip("hyperscan")
    hs = load_rules(backend="hyperscan")
    ac = load_rules(backend="pyahocorasick")
    assert (hs.backend, ac.backend) == ("hyperscan", "pyahocorasick")
    others = [ac]
    if _native.load("sms_review") is not None:  # the compiled kernel's automaton
        native = load_rules(backend="native")
        assert native.backend == "native"
        others.append(native)
    for text in [
        "【京东】全场5折起，限时抢购，回T退订",
        "百.家.乐 首存",
        "I have a VIP offer",
        "验证码123456",
        "我是公安局的民警，你涉嫌洗钱，请将资金转入安全账户，并提供验证码配合调查",
        "你好，我是你领导，明天来我办公室一趟，先帮我转两万到这个账户 6222021234567890123",
    ]:
        want = review(text, rules=hs).to_dict(explain=True)
        assert all(review(text, rules=r).to_dict(explain=True) == want for r in others), text
