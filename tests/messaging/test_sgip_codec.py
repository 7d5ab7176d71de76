"""SGIP 1.2 codec: layouts checked against others' code — the Huawei SMProxy SGIP classes
(hollisho/SMProxy, com/huawei/insa2/comm/sgip/message: SGIPBindMessage is 61 octets with Login
Type at 20, Login Name at 21, Login Password at 37; SGIPBindRepMessage 29 octets, Result at 20;
SGIPUnbindMessage 20 octets, Command ID 2) and yedamao/go_sgip (sgip/protocol: header.go's 20-octet
header with a three-number sequence, op_submit.go's and op_report.go's field order) — packets
hand-derived from the specification's field tables (SGIP 1.2, 4.1-4.2), round trips with hypothesis,
and malformed bodies that must end in SgipError only."""

from __future__ import annotations

import struct
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piguard.messaging.sgip import pdu
from piguard.messaging.sgip.pdu import Cmd, SgipError

SEQ = (3_010_012_345, 1203101112, 7)  # node 3 + area 0100 + corp 12345, 3 Dec 10:11:12, seq 7


def test_header_and_sequence() -> None:
    packet = pdu.frame(Cmd.UNBIND, SEQ)
    assert packet == struct.pack(">IIIII", 20, 2, *SEQ) and len(packet) == 20  # SGIPUnbindMessage
    h, body = pdu.split_packet(packet)
    assert (h.length, h.command_id, h.sequence, body) == (20, 2, SEQ, b"")
    assert pdu.sequence_of(3_010_012_345, datetime(2026, 12, 3, 10, 11, 12), 7) == SEQ
    assert (
        pdu.sequence_hex(SEQ) == "b36924b947b5ddb800000007"
        and pdu.sequence_from_hex(pdu.sequence_hex(SEQ)) == SEQ
    )


def test_bind_against_huawei_offsets() -> None:
    packet = pdu.frame(Cmd.BIND, SEQ, pdu.encode_bind(pdu.Bind(1, "sp901234", "pa55word")))
    assert len(packet) == 61 and packet[4:8] == b"\x00\x00\x00\x01" and packet[20] == 1
    assert packet[21:37] == b"sp901234".ljust(16, b"\x00") and packet[37:53] == b"pa55word".ljust(16, b"\x00")
    assert packet[53:61] == bytes(8)
    assert pdu.decode_bind(packet[20:]) == pdu.Bind(1, "sp901234", "pa55word")
    resp = pdu.frame(Cmd.BIND_RESP, SEQ, pdu.encode_resp(1))
    assert len(resp) == 29 and resp[4:8] == bytes.fromhex("80000001") and resp[20] == 1  # SGIPBindRepMessage
    assert pdu.decode_resp(resp[20:]) == 1


def test_submit_against_the_specification() -> None:
    s = pdu.Submit(
        sp_number="1065560101", charge_number="000000000000000000000", user_numbers=("8613012345678",),
        corp_id="12345", service_type="TEST", fee_type=1, fee_value="0", given_value="0",
        morelateto_mt_flag=2, report_flag=1, tp_udhi=0, message_coding=8, content="退订".encode("utf-16-be"),
    )  # fmt: skip
    body = pdu.encode_submit(s)
    expected = (
        b"1065560101".ljust(21, b"\x00") + b"0" * 21  # SPNumber, ChargeNumber
        + b"\x01" + b"8613012345678".ljust(21, b"\x00")  # UserCount, UserNumber
        + b"12345" + b"TEST".ljust(10, b"\x00")  # CorpId, ServiceType
        + b"\x01" + b"0".ljust(6, b"\x00") + b"0".ljust(6, b"\x00")  # FeeType, FeeValue, GivenValue
        + b"\x00\x02\x00"  # AgentFlag, MorelatetoMTFlag, Priority
        + bytes(16) + bytes(16)  # ExpireTime, ScheduleTime
        + b"\x01\x00\x00\x08\x00"  # ReportFlag, TP_pid, TP_udhi, MessageCoding, MessageType
        + b"\x00\x00\x00\x04" + "退订".encode("utf-16-be")  # MessageLength (4), MessageContent
        + bytes(8)  # Reserve
    )  # fmt: skip
    assert body == expected and pdu.decode_submit(body) == s
    assert pdu.frame(Cmd.SUBMIT_RESP, SEQ, pdu.encode_resp(0))[20:] == bytes(9)


def test_deliver_and_report_layouts() -> None:
    d = pdu.Deliver("8613012345678", "1065560101", 0, 0, 15, b"TD")
    body = pdu.encode_deliver(d)
    assert body == (
        b"8613012345678".ljust(21, b"\x00") + b"1065560101".ljust(21, b"\x00") + b"\x00\x00\x0f"
        + b"\x00\x00\x00\x02TD" + bytes(8)
    )  # fmt: skip
    assert pdu.decode_deliver(body) == d
    rp = pdu.Report(SEQ, "8613012345678", pdu.STATE_DELIVERED, 0)
    body = pdu.encode_report(rp)
    assert body == struct.pack(">III", *SEQ) + b"\x00" + b"8613012345678".ljust(
        21, b"\x00"
    ) + b"\x00\x00" + bytes(8)
    assert len(body) == 44 and pdu.decode_report(body) == rp


_num = st.text(alphabet="0123456789", max_size=21)


@settings(max_examples=150, deadline=None)
@given(
    _num, st.lists(_num, min_size=1, max_size=5), st.integers(0, 255), st.integers(0, 3), st.integers(0, 1),
    st.sampled_from([0, 8, 15]), st.binary(max_size=400),
)  # fmt: skip
def test_submit_round_trip(
    sp: str, users: list[str], fee: int, flag: int, udhi: int, coding: int, content: bytes
) -> None:
    s = pdu.Submit(sp, "", tuple(users), "12345", "SVC", fee, "100", "0", 0, 2, 1, "", "", flag, 0, udhi, coding, 0,
                   content)  # fmt: skip
    assert pdu.decode_submit(pdu.encode_submit(s)) == s


@settings(max_examples=150, deadline=None)
@given(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    _num, _num, st.integers(0, 2), st.integers(0, 255), st.binary(max_size=300),
)  # fmt: skip
def test_report_deliver_header_round_trip(
    seq: tuple[int, int, int], user: str, sp: str, state: int, err: int, content: bytes
) -> None:
    rp = pdu.Report(seq, user, state, err)
    assert pdu.decode_report(pdu.encode_report(rp)) == rp
    d = pdu.Deliver(user, sp, 0, 1, 8, content)
    assert pdu.decode_deliver(pdu.encode_deliver(d)) == d
    h, _ = pdu.split_packet(pdu.frame(Cmd.REPORT, seq, pdu.encode_report(rp)))
    assert h.sequence == seq and pdu.sequence_from_hex(pdu.sequence_hex(seq)) == seq


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_malformed_bodies_raise_sgip_error_only(data: bytes) -> None:
    for decode in (pdu.decode_bind, pdu.decode_resp, pdu.decode_submit, pdu.decode_deliver, pdu.decode_report,
                   pdu.split_packet, pdu.decode_empty):  # fmt: skip
        try:
            decode(data)  # type: ignore[operator]
        except SgipError as err:
            assert err.result in (5, 6, 8)


def test_bad_lengths_and_fields() -> None:
    assert not pdu.length_ok(pdu.Header(19, 1, SEQ)) and not pdu.length_ok(pdu.Header(2049, 1, SEQ))
    with pytest.raises(SgipError):
        pdu.split_packet(struct.pack(">IIIII", 30, 3, *SEQ))  # announces 30, carries 20
    with pytest.raises(SgipError) as err:
        pdu.encode_submit(pdu.Submit(user_numbers=()))
    assert err.value.result == 6
    with pytest.raises(SgipError):
        pdu.encode_bind(pdu.Bind(1, "x" * 17, "p"))
    with pytest.raises(SgipError):
        pdu.encode_bind(pdu.Bind(1, "名字", "p"))


def test_result_tables_are_documented_and_cover_every_refusal() -> None:
    from piguard.messaging.sgip.statuses import BIND_RESULTS, RESULTS, sgip_result
    from piguard.messaging.smpp.statuses import FIELD_STATUS, REFUSAL_STATUS

    from .test_smgp_codec import _documented

    for status in [*REFUSAL_STATUS.values(), *FIELD_STATUS.values()]:
        assert sgip_result(int(status)) in RESULTS
    assert _documented("### SGIP Result table", "### SGIP Reports") == set(RESULTS)
    assert _documented("### SGIP Bind result table", "### SGIP Result table") == set(BIND_RESULTS)
