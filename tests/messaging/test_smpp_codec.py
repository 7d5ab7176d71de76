"""SMPP codec: PDUs against smpplib's encoder, data codings, UDH / SAR / message_payload, splitting,
receipts, refusal status table."""

from __future__ import annotations

import struct

import pytest
import smpplib.client
import smpplib.gsm
import smpplib.smpp

from piguard.messaging.smpp import pdu
from piguard.messaging.smpp.pdu import PduError, ShortMessage, Status, Tag
from piguard.messaging.smpp.statuses import REFUSAL_STATUS, refusal_status
from piguard.messaging.smpp.text import (
    DC_UCS2,
    Segment,
    decode_text,
    encode_for_sms,
    format_receipt,
    parse_receipt,
    split_udh,
)


def _smpplib_submit(**kw: object) -> bytes:
    client = smpplib.client.Client("127.0.0.1", 1, allow_unknown_opt_params=True)
    return smpplib.smpp.make_pdu("submit_sm", client=client, **kw).generate()  # type: ignore[no-any-return]


def test_parses_smpplib_submit_sm() -> None:
    parts, coding, esm = smpplib.gsm.make_parts("【优品商城】您的订单已发货")
    raw = _smpplib_submit(
        source_addr="1069000101",
        destination_addr="8613812345678",
        dest_addr_ton=1,
        short_message=parts[0],
        data_coding=coding,
        esm_class=esm,
        registered_delivery=1,
    )
    h = pdu.parse_header(raw)
    assert h.command_id == pdu.Cmd.SUBMIT_SM and h.length == len(raw)
    sm = pdu.parse_short_message(raw[16:])
    assert (sm.source_addr, sm.destination_addr, sm.dest_addr_ton, sm.registered_delivery) == (
        "1069000101",
        "8613812345678",
        1,
        1,
    )
    payload, seg = split_udh(sm)
    assert seg is None and decode_text(payload, sm.data_coding) == "【优品商城】您的订单已发货"
    # and our encoder writes the same body back
    assert pdu.parse_short_message(pdu.encode_short_message(sm)) == sm


def test_udh_concatenation_from_smpplib() -> None:
    text = "【优品商城】" + "春季新品上市，欢迎选购。" * 10
    parts, coding, esm = smpplib.gsm.make_parts(text)
    assert len(parts) > 1
    payloads: dict[int, bytes] = {}
    total = 0
    for part in parts:
        sm = pdu.parse_short_message(
            _smpplib_submit(
                source_addr="1", destination_addr="2", short_message=part, data_coding=coding, esm_class=esm
            )[16:]
        )
        payload, seg = split_udh(sm)
        assert seg is not None
        payloads[seg.seq], total = payload, seg.total
    joined = b"".join(payloads[i] for i in range(1, total + 1))
    assert decode_text(joined, DC_UCS2) == text


def test_sar_parameters_and_16bit_reference_and_message_payload() -> None:
    sm = ShortMessage(
        "1",
        "2",
        b"abc",
        tlvs={
            Tag.SAR_MSG_REF_NUM: b"\x01\x02",
            Tag.SAR_TOTAL_SEGMENTS: b"\x03",
            Tag.SAR_SEGMENT_SEQNUM: b"\x02",
        },
    )
    assert split_udh(sm) == (b"abc", Segment(0x0102, 3, 2))
    sm = ShortMessage("1", "2", bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + b"xy", esm_class=0x40)
    assert split_udh(sm) == (b"xy", Segment(0x1234, 2, 1))
    long_text = "退订说明" * 100
    sm = ShortMessage("1", "2", b"", data_coding=8, tlvs={Tag.MESSAGE_PAYLOAD: long_text.encode("utf-16-be")})
    raw = pdu.encode_short_message(sm)
    back = pdu.parse_short_message(raw)
    payload, seg = split_udh(back)
    assert seg is None and decode_text(payload, 8) == long_text
    with pytest.raises(PduError):  # both short_message and message_payload
        split_udh(ShortMessage("1", "2", b"a", tlvs={Tag.MESSAGE_PAYLOAD: b"b"}))
    with pytest.raises(PduError):  # part number out of range
        split_udh(ShortMessage("1", "2", bytes([5, 0, 3, 1, 2, 3]) + b"x", esm_class=0x40))
    with pytest.raises(PduError):  # UDH longer than the message
        split_udh(ShortMessage("1", "2", bytes([9, 0, 3]), esm_class=0x40))


def test_data_codings() -> None:
    assert decode_text(b"Hello \x00 \x02 \x1b\x3c\x1b\x3e", 0) == "Hello @ $ []"
    assert decode_text(b"Hi @", 0, "ascii") == "Hi @"
    assert decode_text("café".encode("latin-1"), 3) == "café"
    assert decode_text("你好".encode("gbk"), 15) == "你好"
    assert decode_text("😀退订".encode("utf-16-be"), 8) == "😀退订"  # surrogate pair
    for raw, dc in ((b"\x80", 0), (b"\xd8\x00", 8), (b"abc", 8), (b"\x01\x02", 4), (b"\xff", 1)):
        with pytest.raises(PduError) as exc:
            decode_text(raw, dc)
        assert exc.value.status == Status.PG_UNSUPPORTED_CODING


def test_encode_for_sms_picks_coding_and_splits_without_breaking_characters() -> None:
    assert encode_for_sms("Your code is 123456", 1).data_coding == 0
    short = encode_for_sms("【优品商城】验证码123456", 1)
    assert short.data_coding == 8 and len(short.parts) == 1 and short.esm_class == 0
    text = "😀" + "优品" * 60 + "😀" * 10
    enc = encode_for_sms(text, 7)
    assert enc.data_coding == 8 and enc.esm_class == 0x40 and len(enc.parts) > 1
    body = b""
    for i, part in enumerate(enc.parts, 1):
        assert part[:6] == bytes([5, 0, 3, 7, len(enc.parts), i]) and len(part) <= 140
        assert part[6:].decode("utf-16-be")  # each part decodes alone: no split surrogate
        body += part[6:]
    assert body.decode("utf-16-be") == text
    gsm = encode_for_sms("a{" * 100, 3)  # escapes are never split
    assert all(not p.endswith(b"\x1b") for p in gsm.parts) and len(gsm.parts) == 2


def test_receipt_text_round_trip() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    text = format_receipt("abc123", "DELIVRD", now, now)
    assert text.startswith(b"id:abc123 sub:001 dlvrd:001") and b"stat:DELIVRD err:000 text:" in text
    rc = parse_receipt(ShortMessage("1", "2", text, esm_class=4))
    assert rc is not None and (rc.message_id, rc.state) == ("abc123", "DELIVRD")
    rc = parse_receipt(
        ShortMessage(
            "1", "2", b"", esm_class=4, tlvs={Tag.RECEIPTED_MESSAGE_ID: b"x9\x00", Tag.MESSAGE_STATE: b"\x05"}
        )
    )
    assert rc is not None and (rc.message_id, rc.state) == ("x9", "UNDELIV")
    assert parse_receipt(ShortMessage("1", "2", b"hello", esm_class=4)) is None


def test_malformed_bodies_raise_pdu_errors_only() -> None:
    good = pdu.encode_short_message(ShortMessage("1069000101", "8613812345678", b"hi"))
    for n in range(len(good)):
        try:
            pdu.parse_short_message(good[:n])
        except PduError as err:
            assert err.status in (
                Status.ESME_RINVCMDLEN,
                Status.ESME_RINVPARLEN,
                Status.ESME_RINVOPTPARSTREAM,
            )
    with pytest.raises(PduError):
        pdu.parse_short_message(good + b"\x04\x24\x00\x09ab")  # TLV longer than the PDU
    with pytest.raises(PduError):
        pdu.parse_bind(b"x" * 40)  # system_id without its NUL
    with pytest.raises(PduError):
        pdu.check_length(pdu.parse_header(struct.pack(">IIII", 12, 4, 0, 1)))


@pytest.mark.obligation("O31-10", "O31-16", "O31-18.1", "O31-20", "O31-21", "O31-23")
def test_refusal_status_table_precedence() -> None:
    assert refusal_status(["consent_missing", "sender_unregistered"]) == Status.ESME_RINVSRCADR
    assert (
        refusal_status(["consent_missing", "prohibited_content", "optout_missing"])
        == Status.PG_PROHIBITED_CONTENT
    )
    assert refusal_status(["optout_missing", "consent_missing"]) == Status.PG_OPTOUT_WORDING
    assert refusal_status(["consent_changed"]) == Status.PG_NO_CONSENT
    assert refusal_status(["content_provider_suspended", "signature_missing"]) == Status.PG_SUSPENDED
    assert refusal_status(["something_new"]) == Status.ESME_RSUBMITFAIL
    assert all(0x400 <= s <= 0x4FF or s < 0x100 for s in REFUSAL_STATUS.values())


@pytest.mark.parametrize(
    ("text", "sender", "recipient", "priority"),
    [
        ("Hello", "1069000101", "8613900000000", 0),
        ("【优品商城】您的订单已发货" * 8, "1069000101", "8613900000000", 1),  # UCS2, concatenated
        ("x" * 400, "10690001" + "9" * 30, "86" + "1" * 40, 0),  # GSM parts; addresses cut at 20
        ("café €", "", "", 0),
    ],
)
def test_submit_head_is_what_encode_short_message_writes(
    text: str, sender: str, recipient: str, priority: int
) -> None:
    """The upstream client builds a message's submit_sm bodies from one head
    (``pdu.submit_head``): byte for byte the body ``encode_short_message`` writes for each part."""
    enc = encode_for_sms(text, 7)
    head = pdu.submit_head(
        sender,
        recipient,
        source_addr_ton=5,
        source_addr_npi=0,
        dest_addr_ton=1,
        dest_addr_npi=1,
        esm_class=enc.esm_class,
        priority_flag=priority,
        registered_delivery=1,
        data_coding=enc.data_coding,
    )
    for part in enc.parts:
        sm = ShortMessage(
            source_addr=sender,
            destination_addr=recipient,
            short_message=part,
            source_addr_ton=5,
            source_addr_npi=0,
            dest_addr_ton=1,
            dest_addr_npi=1,
            esm_class=enc.esm_class,
            priority_flag=priority,
            registered_delivery=1,
            data_coding=enc.data_coding,
        )
        assert head + bytes([len(part)]) + part == pdu.encode_short_message(sm)
