"""SMGP 3.0 codec: vectors from yedamao/go_smgp's tests (smgp/protocol/msgID_test.go and
report_test.go: status reports as SMGWs send them; MIT), the specification's own TimeStamp example
(SMGP 3.0 section 6.2.1, quoted in go_smgp's utils.go), packets hand-derived from the
specification's field tables (6.2.1-6.2.6, 6.3), round trips with hypothesis, and malformed bodies
that must end in SmgpError only."""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piguard.messaging.smgp import pdu
from piguard.messaging.smgp.pdu import Cmd, SmgpError, Tag

# go_smgp msgID_test.go: a MsgID and its 20 digits
GO_SMGP_MSG_ID = bytes([0x01, 0x00, 0x61, 0x01, 0x16, 0x17, 0x00, 0x01, 0x23, 0x45])
# go_smgp report_test.go: two reports as gateways sent them (Go's octal escapes written as \x..);
# the second spells its labels differently (sSub:, sDlvrd:, ...): read by position
GO_SMGP_REPORTS = [
    b"id:\x10\x10\x05\x05\x30\x15W\x92c9 sub:001 dlvrd:001 submit date:1805301557 done date:1805301557"
    b" stat:DELIVRD err:000 Text:fillfillfillfillfill",
    b"id:\x05p\x13\x05\x30\x15PVu\x01sSub:001sDlvrd:000sSubmit_Date:1805301550sDone_Date:1805301550"
    b"sStat:DELIVRDsErr:000sText:fillfillfillfillfill",
]


def test_msg_id_vector_and_layout() -> None:
    assert pdu.msg_id_str(GO_SMGP_MSG_ID) == "01006101161700012345"
    parts = pdu.split_msg_id(GO_SMGP_MSG_ID)
    assert (parts.gateway, parts.time, parts.sequence) == ("010061", "01161700", "012345")
    # SMGW code 010061, 16 Jan 17:00, sequence 12345: the same ten octets
    assert pdu.make_msg_id(datetime(2027, 1, 16, 17, 0, 59), 10061, 12345) == GO_SMGP_MSG_ID
    assert pdu.make_msg_id(datetime(2027, 1, 16, 17, 0), 10061, 1_012_345) == GO_SMGP_MSG_ID  # wraps
    with pytest.raises(ValueError):
        pdu.make_msg_id(datetime(2027, 1, 1), 1_000_000, 1)


def test_reports_from_real_gateways() -> None:
    a, b = (pdu.decode_report(r) for r in GO_SMGP_REPORTS)
    assert (a.stat, a.submit_date, a.done_date, a.err, a.dlvrd) == (
        "DELIVRD",
        "1805301557",
        "1805301557",
        "000",
        "001",
    )
    assert (b.stat, b.submit_date, b.dlvrd, b.text) == (
        "DELIVRD",
        "1805301550",
        "000",
        b"fillfillfillfillfill",
    )
    # the MsgID in a report is BCD: its MMDDhhmm is the submit date's (05301557, 05301550)
    assert pdu.split_msg_id(a.msg_id).time == "05301557" and pdu.split_msg_id(b.msg_id).time == "05301550"
    ours = pdu.encode_report(pdu.Report(a.msg_id, "DELIVRD", "1805301557", "1805301557", text=b"fill" * 5))
    assert len(ours) == pdu.REPORT_LEN == 122
    assert ours == GO_SMGP_REPORTS[0].replace(b"submit date", b"Submit date")


def test_login_against_the_specification() -> None:
    # 6.2.1: "3月1日0时0分0秒，TimeStamp字段值为0x11F0E540，此处为0301000000"
    ts = pdu.timestamp_of(datetime(2027, 3, 1, 0, 0, 0))
    assert ts == 0x11F0E540
    auth = hashlib.md5(b"33001001" + bytes(7) + b"secret" + b"0301000000").digest()
    assert pdu.authenticator_client("33001001", "secret", ts) == auth
    body = pdu.encode_login(pdu.Login("33001001", auth, pdu.LoginMode.TRANSMIT, ts))
    packet = pdu.frame(Cmd.LOGIN, 1, body)
    # PacketLength 42, RequestID 1, SequenceID 1, ClientID 8, authenticator, LoginMode 2, TimeStamp,
    # ClientVersion 0x30
    assert packet == bytes.fromhex("0000002a00000001000000013333303031303031") + auth + bytes.fromhex(
        "0211f0e54030"
    )
    assert pdu.decode_login(body) == pdu.Login("33001001", auth, 2, 0x11F0E540, 0x30)
    # 6.2.2: AuthenticatorServer = MD5(Status + AuthenticatorClient + shared secret), Status 4 octets
    server = hashlib.md5(bytes(4) + auth + b"secret").digest()
    assert pdu.authenticator_server(0, auth, "secret") == server
    resp = pdu.frame(Cmd.LOGIN_RESP, 1, pdu.encode_login_resp(pdu.LoginResp(0, server)))
    assert resp == bytes.fromhex("00000021800000010000000100000000") + server + b"\x30"


def test_submit_against_the_specification() -> None:
    s = pdu.Submit(
        need_report=1, priority=1, service_id="TEST", msg_format=8, src_term_id="1065900101",
        dest_term_ids=("13312345678",), content="退订".encode("utf-16-be"),
        tlvs={Tag.TP_UDHI: b"\x00", Tag.PK_TOTAL: b"\x01", Tag.PK_NUMBER: b"\x01"},
    )  # fmt: skip
    body = pdu.encode_submit(s)
    expected = (
        bytes.fromhex("06" "01" "01")  # MsgType 6 (MT), NeedReport, Priority
        + b"TEST".ljust(10, b"\x00")  # ServiceID
        + b"00" + b"000000" + b"000000"  # FeeType, FeeCode, FixedFee
        + b"\x08"  # MsgFormat UCS2
        + bytes(17) + bytes(17)  # ValidTime, AtTime
        + b"1065900101".ljust(21, b"\x00") + bytes(21)  # SrcTermID, ChargeTermID
        + b"\x01" + b"13312345678".ljust(21, b"\x00")  # DestTermIDCount, DestTermID
        + b"\x04" + "退订".encode("utf-16-be") + bytes(8)  # MsgLength, MsgContent, Reserve
        + bytes.fromhex("0002000100" "0009000101" "000a000101")  # TLVs: TP_udhi, PkTotal, PkNumber
    )  # fmt: skip
    assert body == expected and len(body) == 3 + 10 + 14 + 1 + 34 + 42 + 22 + 1 + 4 + 8 + 15
    got = pdu.decode_submit(body)
    assert got == s and (got.tp_udhi, got.pk_total, got.pk_number) == (0, 1, 1)
    resp = pdu.encode_msg_resp(pdu.MsgResp(GO_SMGP_MSG_ID, 0))
    assert resp == GO_SMGP_MSG_ID + bytes(4) and pdu.decode_msg_resp(resp).msg_id == GO_SMGP_MSG_ID


def test_deliver_and_empty_packets() -> None:
    d = pdu.Deliver(GO_SMGP_MSG_ID, 0, 15, "20270301000000", "13312345678", "1065900101", b"TD")
    body = pdu.encode_deliver(d)
    assert body[:12] == GO_SMGP_MSG_ID + b"\x00\x0f" and body[12:26] == b"20270301000000"
    assert body[26:47] == b"13312345678".ljust(21, b"\x00") and body[68:71] == b"\x02TD"
    assert pdu.decode_deliver(body) == d
    assert pdu.frame(Cmd.ACTIVE_TEST, 7) == bytes.fromhex("0000000c0000000400000007")
    assert pdu.frame(Cmd.EXIT_RESP, 7) == bytes.fromhex("0000000c8000000600000007")
    with pytest.raises(SmgpError):
        pdu.decode_empty(b"x")


_addr = st.text(alphabet="0123456789", max_size=21)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 255), st.integers(0, 1), st.integers(0, 3), st.sampled_from([0, 8, 15]),
    _addr, st.lists(_addr, min_size=1, max_size=5), st.binary(max_size=255),
    st.dictionaries(st.integers(1, 0x12), st.binary(max_size=20), max_size=4),
)  # fmt: skip
def test_submit_round_trip(
    mtype: int,
    report: int,
    prio: int,
    fmt: int,
    src: str,
    dests: list[str],
    content: bytes,
    tlvs: dict[int, bytes],
) -> None:
    s = pdu.Submit(mtype, report, prio, "SVC", "01", "000010", "000000", fmt, "", "", src, "",
                   tuple(dests), content, tlvs)  # fmt: skip
    assert pdu.decode_submit(pdu.encode_submit(s)) == s


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=10, max_size=10), st.integers(0, 1), _addr, _addr, st.binary(max_size=255))
def test_deliver_and_msg_resp_round_trip(mid: bytes, rep: int, src: str, dest: str, content: bytes) -> None:
    d = pdu.Deliver(mid, rep, 8, "20270101120000", src, dest, content)
    assert pdu.decode_deliver(pdu.encode_deliver(d)) == d
    assert pdu.decode_msg_resp(pdu.encode_msg_resp(pdu.MsgResp(mid, rep))) == pdu.MsgResp(mid, rep)


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)), st.integers(0, 999_999), st.integers(0, 10**7),
    st.sampled_from(["DELIVRD", "UNDELIV", "REJECTD", "EXPIRED"]),
)  # fmt: skip
def test_msg_id_and_report_round_trip(when: datetime, gw: int, seq: int, stat: str) -> None:
    mid = pdu.make_msg_id(when, gw, seq)
    parts = pdu.split_msg_id(mid)
    assert (int(parts.gateway), parts.time, int(parts.sequence)) == (
        gw,
        when.strftime("%m%d%H%M"),
        seq % 10**6,
    )
    rp = pdu.Report(mid, stat, when.strftime("%y%m%d%H%M"), when.strftime("%y%m%d%H%M"), err="001", text=b"x")
    assert pdu.decode_report(pdu.encode_report(rp)) == pdu.Report(
        mid, stat, rp.submit_date, rp.done_date, err="001", text=b"x".ljust(20, b"\x00")
    )


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_malformed_bodies_raise_smgp_error_only(data: bytes) -> None:
    for decode in (pdu.decode_login, pdu.decode_login_resp, pdu.decode_submit, pdu.decode_msg_resp,
                   pdu.decode_deliver, pdu.decode_report, pdu.decode_tlvs, pdu.split_packet):  # fmt: skip
        try:
            decode(data)  # type: ignore[operator]
        except SmgpError as err:
            assert err.status in (10, 36, 47)


def test_bad_lengths_and_fields() -> None:
    assert not pdu.length_ok(pdu.Header(11, 1, 1)) and not pdu.length_ok(pdu.Header(pdu.MAX_PACKET + 1, 1, 1))
    with pytest.raises(SmgpError):
        pdu.split_packet(struct.pack(">III", 20, 4, 1))  # announces 20, carries 12
    with pytest.raises(SmgpError) as err:
        pdu.encode_submit(pdu.Submit(dest_term_ids=()))
    assert err.value.status == 47
    with pytest.raises(SmgpError):
        pdu.encode_submit(pdu.Submit(dest_term_ids=("1" * 22,)))
    with pytest.raises(SmgpError):
        pdu.tlv_int({Tag.PK_TOTAL: b"\x00\x02"}, Tag.PK_TOTAL, 1)


def _documented(heading: str, end: str) -> set[int]:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sms-china.md").read_text(encoding="utf-8")
    section = doc.split(heading, 1)[1].split(end, 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", section, flags=re.M)}


def test_status_tables_are_documented_and_cover_every_refusal() -> None:
    """Every SMPP refusal status maps to an SMGP Status in the table, and docs/sms-china.md lists
    exactly the tables' codes."""
    from piguard.messaging.smgp.statuses import LOGIN_STATUSES, STATUSES, smgp_status
    from piguard.messaging.smpp.statuses import FIELD_STATUS, REFUSAL_STATUS

    for status in [*REFUSAL_STATUS.values(), *FIELD_STATUS.values()]:
        assert smgp_status(int(status)) in STATUSES
    assert _documented("### SMGP Status table", "### SMGP status reports") == set(STATUSES)
    assert _documented("### SMGP Login status table", "### SMGP Status table") == set(LOGIN_STATUSES)
