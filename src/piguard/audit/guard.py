"""Input checks for audit entries, and the PI guard that keeps clear personal information out.

An audit entry says *whose* information was touched by reference (a user id or pseudonymous id),
never by the information itself (O24-10, O24-13.6). So:

* ``subject_ref``, ``actor_id`` and ``purpose`` that look like PI (a mobile number, a resident ID, a
  bank card, an e-mail…) are refused; in ``terminal`` such spans are masked (IP addresses are kept:
  a terminal is a place);
* in ``detail`` every string goes through :func:`piguard.core.logging.redact` (PI-looking spans are
  masked), and a key that names a PI field (``phone``, ``name``, ``id_card``… see
  :data:`piguard.core.logging.PI_KEYS`) may hold only an already-masked value (``138****5678``,
  ``张*``) or none: a clear value is refused, and the error never repeats it.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID

from piguard.audit.chain import canonical_json, iso_utc
from piguard.audit.models import ACTOR_TYPES, OUTCOMES
from piguard.core.errors import FieldError, PiguardError
from piguard.core.logging import PI_KEYS, redact
from piguard.regulations.markers import carries

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_\-]+)+$")
CATEGORY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
OBLIGATION_RE = re.compile(r"^[A-Z]{1,4}[0-9]{0,3}-[0-9]+(?:\.[0-9]+)*$")
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9.])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Characters that show a value has been masked (``138****5678``, ``张*``, ``[redacted]``).
_MASK_MARKS = ("*", "＊", "•", "[redacted]")
_FOLD = str.maketrans("０１２３４５６７８９", "0123456789")

MAX_DETAIL_BYTES = 16 * 1024
MAX_DEPTH = 6
MAX_LIST = 64


def _invalid(fields: list[FieldError]) -> PiguardError:
    return PiguardError(
        "audit_invalid_entry",
        "The audit entry is not valid.",
        "审计记录无效。",
        obligations=("O24-13.6",),
        fields=fields,
        http_status=422,
        exit_code=2,
    )


def _clear_pi(field: str) -> PiguardError:
    return PiguardError(
        "audit_clear_pi",
        "Audit entries must not hold clear personal information: refer to the subject by id and "
        "store only masked values.",
        "审计记录不得包含明文个人信息：请以用户编号指代当事人，只记录脱敏后的值。",
        obligations=("O24-10", "O24-13.6"),
        fields=[FieldError(field, "clear personal information refused / 拒绝明文个人信息")],
        http_status=422,
        exit_code=2,
    )


#: Every pattern :func:`redact` masks holds an "@" (e-mail) or at least four digits (an IPv4 address;
#: phone, ID and card numbers hold more), so text without either is left as it is and need not be
#: scanned. ``tests/audit/test_audit_pi_guard.py`` checks this against ``redact`` itself.
MIN_PI_DIGITS = 4
_DROP_DIGITS = str.maketrans("", "", "0123456789０１２３４５６７８９")
_CACHED_LEN = 96


def could_hold_pi(value: str) -> bool:
    return "@" in value or len(value) - len(value.translate(_DROP_DIGITS)) >= MIN_PI_DIGITS


@lru_cache(maxsize=8192)
def _masked_short(value: str) -> str:
    return redact(value)


def masked(value: str) -> str:
    """``redact(value)``, skipping text that cannot hold PI and remembering short values."""
    if not could_hold_pi(value):
        return value
    return _masked_short(value) if len(value) <= _CACHED_LEN else redact(value)


def looks_like_pi(value: str, *, allow_ip: bool = False) -> bool:
    """True when :func:`redact` would mask part of ``value`` (IPv4 addresses exempted on request)."""
    if not could_hold_pi(value):
        return False
    probe = _IPV4.sub("", value) if allow_ip else value
    return masked(probe) != probe.translate(_FOLD)


def is_masked(value: str) -> bool:
    """A masked value: carries a mask mark and nothing that still looks like PI."""
    return any(m in value for m in _MASK_MARKS) and not looks_like_pi(value)


def _text(field: str, value: Any, *, max_len: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise _invalid([FieldError(field, "required / 必填")])
        return None
    if type(value) is not str:
        if not isinstance(value, str):
            raise _invalid([FieldError(field, "must be text / 必须是文本")])
        value = str(value)
    problem = _text_problem(value, max_len, required)
    if problem is not None:
        raise _invalid([FieldError(field, problem)])
    return value


@lru_cache(maxsize=8192)
def _text_problem(value: str, max_len: int, required: bool) -> str | None:
    if (required and not value) or len(value) > max_len:
        return f"must be 1 to {max_len} characters / 长度须为 1 至 {max_len} 个字符"
    if _CONTROL.search(value):
        return "control characters are not allowed / 不允许控制字符"
    return None


def _ref(field: str, value: Any, *, max_len: int = 128, allow_ip: bool = False) -> str | None:
    text = _text(field, value, max_len=max_len)
    if text is not None and looks_like_pi(text, allow_ip=allow_ip):
        raise _clear_pi(field)
    return text


def check_action(action: Any) -> str:
    text = _text("action", action, max_len=64, required=True)
    assert text is not None
    if not ACTION_RE.match(text):
        raise _invalid(
            [
                FieldError(
                    "action",
                    "must look like 'domain.verb', e.g. 'pi.read' / 格式应为 '领域.动作'，如 'pi.read'",
                )
            ]
        )
    return text


def check_actor(actor_type: Any, actor_id: Any) -> tuple[str, str | None]:
    if actor_type not in ACTOR_TYPES:
        raise _invalid(
            [
                FieldError(
                    "actor.type",
                    f"must be one of {', '.join(ACTOR_TYPES)} / 取值须为 {', '.join(ACTOR_TYPES)}",
                )
            ]
        )
    return actor_type, _ref("actor.id", actor_id)


def check_outcome(outcome: Any) -> str:
    if outcome not in OUTCOMES:
        raise _invalid(
            [FieldError("outcome", f"must be one of {', '.join(OUTCOMES)} / 取值须为 {', '.join(OUTCOMES)}")]
        )
    return str(outcome)


@lru_cache(maxsize=4096)
def _normal_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def check_client_ip(value: Any) -> str | None:
    if value is None:
        return None
    ip = _normal_ip(str(value)[:64])
    if ip is None:
        raise _invalid([FieldError("client_ip", "not an IP address / 不是有效的 IP 地址")])
    return ip


def _codes(field: str, values: Any, pattern: re.Pattern[str], example: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence | set | frozenset):
        raise _invalid([FieldError(field, "must be a list / 必须是列表")])
    items = tuple(values)
    try:
        bad, out = _checked_codes(pattern, items)
    except TypeError:  # an unhashable item
        bad, out = next(i for i, v in enumerate(items) if not isinstance(v, str)), ()
    if bad is not None:
        raise _invalid(
            [
                FieldError(
                    f"{field}[{bad}]", f"not a valid code (e.g. {example}) / 代码格式无效（如 {example}）"
                )
            ]
        )
    if len(out) > MAX_LIST:
        raise _invalid([FieldError(field, f"at most {MAX_LIST} items / 最多 {MAX_LIST} 项")])
    return list(out)


@lru_cache(maxsize=4096)
def _checked_codes(pattern: re.Pattern[str], items: tuple[Any, ...]) -> tuple[int | None, tuple[str, ...]]:
    """(index of the first bad item or None, the items without repeats); lists of codes repeat."""
    out: list[str] = []
    for i, v in enumerate(items):
        if not isinstance(v, str) or pattern.match(v) is None:
            return i, ()
        if v not in out:
            out.append(v)
    return None, tuple(out)


def check_categories(values: Any) -> list[str]:
    return _codes("data_categories", values, CATEGORY_RE, "user.contact.phone")


def check_obligations(values: Any) -> list[str]:
    return _codes("obligations", values, OBLIGATION_RE, "O24-13.6")


class _Bad(Exception):
    """A problem inside ``detail``; its path is built on the way out (no cost when all is well)."""

    def __init__(self, message: str, *, pi: bool = False) -> None:
        super().__init__(message)
        self.message, self.pi, self.path = message, pi, ""

    def error(self) -> PiguardError:
        field = "detail" + self.path
        return _clear_pi(field) if self.pi else _invalid([FieldError(field, self.message)])


@lru_cache(maxsize=4096)
def _key_info(key: str) -> tuple[str | None, bool, bool]:
    """(problem, names a PI field, holds PI itself) for a detail key; keys repeat, so this is cached."""
    if not key or len(key) > 64 or _CONTROL.search(key):
        return "keys must be text of 1 to 64 characters / 键须为 1 至 64 个字符的文本", False, False
    return None, key.lower() in PI_KEYS, looks_like_pi(key)


def _number(value: int | float, pi_key: bool) -> Any:
    if pi_key:  # a phone number or ID given as a number is clear PI
        raise _Bad("", pi=True)
    if type(value) is float and not math.isfinite(value):
        raise _Bad("numbers must be finite / 数值须为有限值")
    if could_hold_pi(repr(value)) and looks_like_pi(repr(value)):  # 13812345678 under an innocent key
        return "[redacted]"
    return value


def _string(value: str, pi_key: bool) -> str:
    if "\x00" in value:
        raise _Bad("NUL characters are not allowed / 不允许 NUL 字符")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Bad("not valid Unicode text / 不是有效的 Unicode 文本") from None
    if pi_key:
        if value and not is_masked(value):
            raise _Bad("", pi=True)
        return value
    return masked(value)


def _clean(value: Any, depth: int, pi_key: bool) -> Any:
    kind = type(value)
    if kind is str:
        return _string(value, pi_key)
    if value is None or kind is bool:
        return value
    if kind is int or kind is float:
        return _number(value, pi_key)
    if depth > MAX_DEPTH:
        raise _Bad(f"nested deeper than {MAX_DEPTH} levels / 嵌套超过 {MAX_DEPTH} 层")
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _Bad("keys must be text / 键必须是文本")
            problem, names_pi, holds_pi = _key_info(k)
            if problem is not None:
                raise _Bad(problem)
            if holds_pi:
                raise _Bad("", pi=True)
            try:
                out[k] = _clean(v, depth + 1, pi_key or names_pi)
            except _Bad as bad:
                bad.path = f".{k}{bad.path}"
                raise
        return out
    if kind is list or kind is tuple or isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        if len(items) > 10 * MAX_LIST:
            raise _Bad("list too long / 列表过长")
        cleaned = []
        for i, v in enumerate(items):
            try:
                cleaned.append(_clean(v, depth + 1, pi_key))
            except _Bad as bad:
                bad.path = f"[{i}]{bad.path}"
                raise
        return cleaned
    # the rarer types, and subclasses (StrEnum, IntEnum…)
    if isinstance(value, Enum):
        return _clean(value.value, depth, pi_key)
    if isinstance(value, int):
        return _number(int(value), pi_key)
    if isinstance(value, float):
        return _number(float(value), pi_key)
    if isinstance(value, datetime):
        return _string(iso_utc(value) if value.tzinfo is not None else value.isoformat(), pi_key)
    if isinstance(value, date | UUID):
        return _string(str(value), pi_key)
    if isinstance(value, str):
        return _string(str(value), pi_key)
    raise _Bad(f"unsupported value type {kind.__name__} / 不支持的取值类型")


@carries("O24-13.6", "O24-10")
def clean_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The detail as it will be stored: JSON-native, PI masked, clear PI under PI keys refused."""
    if detail is None:
        return {}
    if not isinstance(detail, Mapping):
        raise _invalid([FieldError("detail", "must be a mapping / 必须是键值对象")])
    try:
        cleaned: dict[str, Any] = _clean(detail, 0, False)
    except _Bad as bad:
        raise bad.error() from None
    if len(canonical_json(cleaned).encode("utf-8")) > MAX_DETAIL_BYTES:
        raise _invalid(
            [FieldError("detail", f"larger than {MAX_DETAIL_BYTES} bytes / 超过 {MAX_DETAIL_BYTES} 字节")]
        )
    return cleaned


def check_purpose(value: Any) -> str | None:
    return _ref("purpose", value, max_len=200)


def check_subject_ref(value: Any) -> str | None:
    return _ref("subject_ref", value)


def check_terminal(value: Any) -> str | None:
    """A terminal is a place (workstation, site, User-Agent): IPv4 addresses stay, other PI is masked."""
    text = _text("terminal", value, max_len=128)
    if text is None or not looks_like_pi(text, allow_ip=True):
        return text
    pieces, last = [], 0
    for match in _IPV4.finditer(text):
        pieces += [masked(text[last : match.start()]), match.group(0)]
        last = match.end()
    pieces.append(masked(text[last:]))
    return "".join(pieces)[:128]
