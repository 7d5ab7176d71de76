"""De-identification: masks keep format and never leave a recognised value in clear (property
tests), pseudonyms are keyed and rotate, generalisation, production refuses the dev key."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piguard.core.errors import PiguardError
from piguard.discovery.deid import (
    Method,
    PseudonymSettings,
    deidentify_text,
    generalise_value,
    mask_value,
    parse_method,
    pseudonym,
    pseudonym_matches,
)
from piguard.discovery.engine import detect
from piguard.discovery.synth import Synth

pytestmark = pytest.mark.obligation("O24-10", "O24-13.3", "CSL-42.1", "CSL-40", "NPC-3")


@pytest.mark.parametrize(
    ("value", "category", "masked"),
    [
        ("13812345678", "phone_mobile", "138****5678"),
        ("138-1234-5678", "phone_mobile", "138-****-5678"),
        ("11010519491231002X", "id_card", "110*************2X"),
        ("6222 0200 1234 5678", "bank_card", "6222 **** **** 5678"),
        ("zhang.san@example.com", "email", "z***@example.com"),
        ("张伟", "name", "张*"),
        ("欧阳娜娜", "name", "欧阳**"),
        ("北京市海淀区中关村大街27号", "address", "北京市****"),
        ("192.168.1.10", "ip_address", "192.168.*.*"),
        ("Abc@123456", "password", "******"),
        ("1990-03-05", "birth_date", "1990-**-**"),
    ],
)
def test_mask_examples(value: str, category: str, masked: str) -> None:
    assert mask_value(value, category) == masked


def test_methods_on_text() -> None:
    text = "手机13812345678，出生日期1990年3月5日，地址：广东省深圳市南山区科技园路1号"
    assert deidentify_text(text, "redact").text == "手机[phone_mobile]，出生日期[birth_date]，地址：[address]"
    assert (
        deidentify_text(text, Method.GENERALISE).text == "手机138****5678，出生日期1990，地址：广东省深圳市"
    )
    with pytest.raises(PiguardError):
        parse_method("shred")


def test_pseudonyms_are_keyed_stable_and_rotate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGUARD_PSEUDONYM_KEY", "key-one")
    a = pseudonym("13812345678", "phone_mobile")
    assert a == pseudonym("+86 138-1234-5678", "phone_mobile")  # normalised before hashing
    assert a.startswith("PSN-phone_mobile-k1-") and "13812345678" not in a
    assert detect(a) == []  # a token is not itself PI
    monkeypatch.setenv("PIGUARD_PSEUDONYM_KEY", "key-two")
    monkeypatch.setenv("PIGUARD_PSEUDONYM_KEY_ID", "k2")
    monkeypatch.setenv("PIGUARD_PSEUDONYM_OLD_KEYS", "k1:key-one")
    b = pseudonym("13812345678", "phone_mobile")
    assert b != a and b.startswith("PSN-phone_mobile-k2-")
    assert pseudonym_matches(a, "13812345678", "phone_mobile")  # old tokens still check out
    assert pseudonym_matches(b, "13812345678", "phone_mobile")
    assert not pseudonym_matches(a, "13912345678", "phone_mobile")
    monkeypatch.setenv("PIGUARD_PSEUDONYM_OLD_KEYS", "")
    assert not pseudonym_matches(a, "13812345678", "phone_mobile")  # retired key: gone for good


def test_production_refuses_the_dev_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIGUARD_ENV", "production")
    monkeypatch.delenv("PIGUARD_PSEUDONYM_KEY", raising=False)
    with pytest.raises(PiguardError) as e:
        deidentify_text("手机13812345678", Method.PSEUDONYMISE)
    assert e.value.code == "pseudonym_key_not_set" and "CSL-42.1" in e.value.obligations
    monkeypatch.setenv("PIGUARD_PSEUDONYM_KEY", "a-real-secret")
    assert "PSN-" in deidentify_text("手机13812345678", Method.PSEUDONYMISE).text
    with pytest.raises(PiguardError):
        PseudonymSettings(pseudonym_old_keys="nocolon").keys()


def test_generalise() -> None:
    assert generalise_value("1990年3月5日", "birth_date") == "1990"
    assert generalise_value("浙江省杭州市西湖区文三路90号", "address") == "浙江省杭州市"
    assert generalise_value("39.904200,116.407396", "gps") == "39.9,116.4"
    assert generalise_value("10.1.2.3", "ip_address") == "10.1.2.0/24"
    assert generalise_value("11010519491231002X", "id_card") == "北京市"


_synth = Synth(seed=5)
_docs = st.builds(lambda seed: Synth(seed).doc().text, st.integers(0, 10**6))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs, st.sampled_from(list(Method)))
def test_no_recognised_value_survives_in_clear(text: str, method: Method) -> None:
    findings = detect(text)
    out = deidentify_text(text, method).text
    networks = set()  # a.b.c.0 generalises to its own network a.b.c.0/24: it already was the network
    for f in findings:
        value = text[f.start : f.end]
        if method is Method.GENERALISE and f.category == "ip_address" and value.endswith(".0"):
            assert f"{value}/24" in out
            networks.add(value)
            continue
        if len(value) >= 4:
            assert value not in out, (f.category, method)
    # and what is left holds no value of those categories any more
    for f in detect(out):
        assert out[f.start : f.end] not in {text[g.start : g.end] for g in findings} - networks


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789０１２３４５６７８９ -+手机号码电话卡@.abcxyz张王李姓名：", max_size=60))
def test_masking_random_text_never_leaks(text: str) -> None:
    findings = detect(text)
    out = deidentify_text(text, Method.MASK).text
    for f in findings:
        value = text[f.start : f.end]
        if len(value) >= 5:
            assert value not in out
