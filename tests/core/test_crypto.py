"""Field encryption and keyed hashes in core (O24-10, CSL-40): versioned keys, the old ``v1:``
values, the blind-index key, the configuration and its errors (no database here)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest

from piguard.core import addresses, crypto
from piguard.core.config import get_settings, reset_settings
from piguard.core.crypto import keys
from piguard.core.errors import PiguardError

pytestmark = pytest.mark.obligation("O24-10", "CSL-40", "NPC-3")

SECRET2 = "s2-" + "a" * 40
SECRET3 = "s3-" + "b" * 40


def _env(mp: pytest.MonkeyPatch, **values: str) -> None:
    for k, v in values.items():
        mp.setenv(f"PIGUARD_{k.upper()}", v)
    reset_settings()


def test_v1_is_the_default_and_new_keys_write_their_id(monkeypatch: pytest.MonkeyPatch) -> None:
    old = crypto.encrypt("+8613812345678")
    assert old.startswith("v1:") and crypto.decrypt(old) == "+8613812345678"
    _env(monkeypatch, field_keys=f"k2:{SECRET2}")
    assert crypto.keyring().current == "k2"
    new = crypto.encrypt("+8613812345678")
    assert new.startswith("k2:") and "13812345678" not in new
    assert crypto.decrypt(new) == "+8613812345678"
    assert crypto.decrypt(old) == "+8613812345678", "v1 values stay readable beside k2"
    assert crypto.encrypt("x") != crypto.encrypt("x"), "a fresh nonce each time"
    assert crypto.decrypt(crypto.encrypt("x", key_id="v1")).startswith("x")


def test_current_key_is_chosen_explicitly_or_the_last_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, field_keys=f"k2:{SECRET2},k3:{SECRET3}")
    assert crypto.keyring().current == "k3"
    _env(monkeypatch, field_key_id="k2")
    assert crypto.keyring().current == "k2" and crypto.encrypt("a").startswith("k2:")


def test_the_key_id_is_bound_into_the_ciphertext(monkeypatch: pytest.MonkeyPatch) -> None:
    """A k2 ciphertext relabelled k3 does not open (the id is associated data)."""
    _env(monkeypatch, field_keys=f"k2:{SECRET2},k3:{SECRET2}")  # even with the same secret
    token = crypto.encrypt("secret", key_id="k2")
    with pytest.raises(PiguardError) as e:
        crypto.decrypt("k3" + token[2:])
    assert e.value.code == "field_key_wrong" and e.value.fields[0].message == "k3"


def test_tampered_unknown_and_malformed_values_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, field_keys=f"k2:{SECRET2}")
    token = crypto.encrypt("+8613812345678")
    raw = bytearray(base64.b64decode(token[3:]))
    raw[-1] ^= 1
    with pytest.raises(PiguardError) as e:
        crypto.decrypt("k2:" + base64.b64encode(bytes(raw)).decode())
    assert (
        e.value.code == "field_key_wrong" and "k2" in e.value.message_en and "O24-10" in e.value.obligations
    )
    with pytest.raises(PiguardError) as e:
        crypto.decrypt("k9:" + token[3:])
    assert e.value.code == "field_key_unknown" and "k9" in e.value.message_en and "k9" in e.value.message_zh
    for bad in ("plain text", "k2:***not base64***", "k2:AAAA"):
        with pytest.raises(PiguardError) as e:
            crypto.decrypt(bad)
        assert e.value.code == "field_not_encrypted"


def test_a_wrong_secret_for_a_key_id_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, field_keys=f"k2:{SECRET2}")
    token = crypto.encrypt("x")
    _env(monkeypatch, field_keys=f"k2:{SECRET3}")
    with pytest.raises(PiguardError) as e:
        crypto.decrypt(token)
    assert e.value.code == "field_key_wrong" and "'k2'" in e.value.message_en
    assert SECRET3 not in str(e.value.to_dict()) and SECRET2 not in str(e.value.to_dict())


def test_keyed_hashes_do_not_depend_on_the_encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    before = crypto.address_hash("+8613812345678"), crypto.identity_hash("id_card", "11010519491231002X")
    _env(monkeypatch, field_keys=f"k2:{SECRET2},k3:{SECRET3}")
    assert (
        crypto.address_hash("+8613812345678"),
        crypto.identity_hash("id_card", "11010519491231002X"),
    ) == before
    # v1 retired: the blind-index key set to the former PIGUARD_FIELD_KEY keeps every hash
    _env(monkeypatch, field_key="", blind_index_key="dev-field-key-change-me")
    assert "v1" not in crypto.keyring().keys
    assert crypto.address_hash("+8613812345678") == before[0]
    _env(monkeypatch, blind_index_key="another-blind-index-key-0123456789abcdef")
    assert crypto.address_hash("+8613812345678") != before[0]


def test_blind_index_normalises_each_kind() -> None:
    assert crypto.blind_index("phone_mobile", "138 1234 5678") == crypto.address_hash("+8613812345678")
    assert crypto.blind_index("phone_mobile", "+86 13812345678") == crypto.blind_index(
        "phone_mobile", "13812345678"
    )
    assert crypto.blind_index("email", "A@Example.CN") == crypto.address_hash("A@example.cn")
    assert crypto.blind_index("id_card", "11010519491231002x") == crypto.identity_hash(
        "id_card", "11010519491231002X"
    )
    assert crypto.blind_index("bank_card", "6222 0212 3456 7890") == crypto.blind_index(
        "bank_card", "6222-0212-3456-7890"
    )
    assert crypto.blind_index("address", "北京市  朝阳区 ") == crypto.blind_index("address", "北京市 朝阳区")
    with pytest.raises(PiguardError) as e:
        crypto.blind_index("phone_mobile", "12345")
    assert e.value.code == "validation_error" and "12345" not in str(e.value.to_dict())


def test_consent_hashes_subjects_like_the_gateway() -> None:
    from piguard.consent import subjects

    assert subjects.parse("phone:13812345678").hash == crypto.address_hash(
        addresses.normalize_address("sms", "13812345678")
    )
    assert subjects.parse("id_card:11010519491231002x").hash == crypto.blind_index(
        "id_card", "11010519491231002X"
    )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"field_keys": "k2"}, "PIGUARD_FIELD_KEYS[k2]"),
        ({"field_keys": f"K 2:{SECRET2}"}, "PIGUARD_FIELD_KEYS#1"),
        ({"field_keys": f"v1:{SECRET2}"}, "PIGUARD_FIELD_KEYS[v1]"),
        ({"field_keys": f"k2:{SECRET2},k2:{SECRET3}"}, "PIGUARD_FIELD_KEYS[k2]"),
        ({"field_keys": f"k2:{SECRET2}", "field_key_id": "k7"}, "PIGUARD_FIELD_KEY_ID"),
        ({"field_key": "", "field_keys": f"k2:{SECRET2}"}, "PIGUARD_BLIND_INDEX_KEY"),
        ({"field_key": ""}, "PIGUARD_FIELD_KEYS"),
    ],
)
def test_bad_key_configuration_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], field: str
) -> None:
    _env(monkeypatch, **values)
    with pytest.raises(PiguardError) as e:
        crypto.keyring()
    assert e.value.code == "field_keys_invalid" and field in {f.field for f in e.value.fields}
    body = str(e.value.to_dict())
    assert SECRET2 not in body and SECRET3 not in body and e.value.message_zh


def test_keys_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "field.keys"
    f.write_text(f"# field keys\nk2:{SECRET2}\n\nk3:{SECRET3}\n", encoding="utf-8")
    os.chmod(f, 0o600)
    _env(monkeypatch, field_keys="k4:" + "c" * 40, field_key_file=str(f))
    ring = crypto.keyring()
    assert set(ring.keys) == {"v1", "k2", "k3", "k4"} and ring.current == "k3"  # the file's last
    assert ring.keys["k2"].source == "PIGUARD_FIELD_KEY_FILE"
    _env(monkeypatch, field_key_file=str(tmp_path / "missing.keys"))
    with pytest.raises(PiguardError) as e:
        crypto.keyring()
    assert e.value.fields[0].field == "PIGUARD_FIELD_KEY_FILE"


def _strong() -> dict[str, str]:
    return {k: secrets.token_hex(32) for k in ("secret_key", "audit_hmac_key", "field_key", "pseudonym_key")}


def test_production_refuses_weak_versioned_and_blind_index_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, env="production", **_strong(), field_keys="k2:dev-short", blind_index_key="short")
    with pytest.raises(PiguardError) as e:
        get_settings()
    assert e.value.code == "insecure_configuration"
    assert {f.field for f in e.value.fields} == {"PIGUARD_FIELD_KEYS[k2]", "PIGUARD_BLIND_INDEX_KEY"}
    assert "dev-short" not in str(e.value.to_dict())
    _env(
        monkeypatch,
        field_keys="k2:" + secrets.token_hex(32),
        blind_index_key=secrets.token_hex(32),
        field_key="",
    )
    assert get_settings().env == "production" and crypto.keyring().current == "k2"


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_production_refuses_a_key_file_others_can_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    f = tmp_path / "field.keys"
    f.write_text("k2:" + secrets.token_hex(32) + "\n", encoding="utf-8")
    os.chmod(f, 0o644)
    _env(monkeypatch, env="production", **_strong(), field_key_file=str(f))
    with pytest.raises(PiguardError) as e:
        get_settings()
    assert e.value.code == "field_keys_invalid" and "chmod 600" in e.value.message_en
    os.chmod(f, 0o600)
    reset_settings()
    assert crypto.keyring().current == "k2"


def test_the_old_module_only_re_exports() -> None:
    from piguard.messaging.records import protect

    assert protect.encrypt is crypto.encrypt and protect.address_hash is crypto.address_hash
    assert protect.normalize_address is addresses.normalize_address


def test_consent_no_longer_imports_messaging_records() -> None:
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "piguard" / "consent"
    bad = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "piguard.messaging.records"
            ):
                bad.append(f"{path.name}: {node.module}")
    assert bad == []


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="category"):
        crypto.register_encrypted_column("t", "c", category="shoe_size")
    assert keys.KEY_ID.match("k2") and not keys.KEY_ID.match("K2")


def _reference_hash(key: bytes, data: bytes) -> str:
    """The keyed hash as it was computed before the prepared HMAC (one-shot ``hmac.digest``)."""
    import hmac

    return hmac.digest(key, data, "sha256").hex()[:32]


def test_prepared_keyed_hashes_equal_the_one_shot_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    """``address_hash`` and ``identity_hash`` copy an HMAC prepared once per blind-index key: the
    same 32 hex characters as the one-shot HMAC, for many values, and again after the key changes
    (a settings reload) and changes back."""
    rnd = secrets.SystemRandom()
    values = [f"+86{rnd.randrange(10**10, 10**11)}" for _ in range(2000)]
    values += ["", "a@example.com", "张三@例子.中国", "x" * 200, "\u0000\uffff"]
    for blind in ("", "another-blind-index-key-0123456789abcdef", ""):
        _env(monkeypatch, blind_index_key=blind)
        key = crypto.keyring().blind_index
        for v in values:
            assert crypto.address_hash(v) == _reference_hash(key, v.encode())
            assert crypto.identity_hash("id_card", v) == _reference_hash(key, f"id_card:{v}".encode())
    _env(monkeypatch, blind_index_key="another-blind-index-key-0123456789abcdef")
    a = crypto.address_hash("+8613812345678")
    _env(monkeypatch, blind_index_key="a-third-blind-index-key-0123456789abcdef")
    assert crypto.address_hash("+8613812345678") != a, "a new key is used at once, not the cached one"


def test_the_prepared_hmac_is_not_shared_between_values() -> None:
    """Each hash starts from a copy: hashing one value leaves the next one's hash unchanged."""
    first = crypto.address_hash("+8613812345678")
    for _ in range(3):
        crypto.address_hash("+8613900000000")
        assert crypto.address_hash("+8613812345678") == first


def test_ciphertexts_are_standard_base64_under_the_key_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """``encrypt`` writes ``<key id>:`` + standard base64 (with padding, no newline) of nonce ||
    ciphertext || tag, as ``base64.b64encode`` did, for every key and length."""
    _env(monkeypatch, field_keys=f"k2:{SECRET2}")
    for key_id in ("v1", "k2"):
        for n in range(0, 70):
            value = "号" * (n % 7) + "x" * n
            token = crypto.encrypt(value, key_id=key_id)
            head, body = token.split(":", 1)
            assert head == key_id and "\n" not in body
            raw = base64.b64decode(body, validate=True)
            assert base64.b64encode(raw).decode() == body
            assert len(raw) == 12 + len(value.encode()) + 16
            assert crypto.decrypt(token) == value
    ring = crypto.keyring()
    assert ring.key("v1").aad is None and ring.key("k2").aad == b"k2"
