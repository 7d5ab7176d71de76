"""One error shape for API and CLI: code, message (zh and en), obligation ids, field errors.

Clients never see stack traces. A refusal by a rule names the obligations it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from piguard.core.reasons import Decision, Reason


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class PiguardError(Exception):
    code: str
    message_en: str
    message_zh: str
    obligations: tuple[str, ...] = ()
    fields: list[FieldError] = field(default_factory=list)
    reasons: tuple[Reason, ...] = ()
    http_status: int = 400
    exit_code: int = 2

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": {"zh": self.message_zh, "en": self.message_en},
            "obligations": list(self.obligations),
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.reasons:
            body["reasons"] = [r.to_dict() for r in self.reasons]
        return {"error": body}


def validation_error(
    fields: list[FieldError], message_en: str = "The input is not valid.", message_zh: str = "输入无效。"
) -> PiguardError:
    return PiguardError("validation_error", message_en, message_zh, fields=fields, http_status=422)


def invalid_field(field_name: str, en: str, zh: str) -> PiguardError:
    """A validation error for one field: ``Invalid <field>: <en>`` / ``<field> 无效：<zh>``."""
    return validation_error(
        [FieldError(field_name, f"{en} / {zh}")], f"Invalid {field_name}: {en}", f"{field_name} 无效：{zh}"
    )


def not_found(what_en: str, what_zh: str, key: str) -> PiguardError:
    return PiguardError(
        "not_found",
        f"{what_en} {key!r} was not found.",
        f"未找到{what_zh} {key!r}。",
        http_status=404,
        exit_code=2,
    )


def refused(
    decision: Decision, message_en: str = "Refused by rule.", message_zh: str = "规则拒绝。"
) -> PiguardError:
    """A rule refused the request: the error carries the decision's reasons and obligation ids."""
    return PiguardError(
        "refused",
        message_en,
        message_zh,
        obligations=decision.obligations,
        reasons=decision.reasons,
        http_status=403,
        exit_code=1,
    )


def unauthenticated() -> PiguardError:
    return PiguardError(
        "unauthenticated", "Authentication required.", "需要登录或有效令牌。", http_status=401, exit_code=2
    )


def forbidden(reasons: tuple[Reason, ...] = ()) -> PiguardError:
    obligations: dict[str, None] = {}
    for r in reasons:
        for o in r.obligations:
            obligations.setdefault(o, None)
    return PiguardError(
        "forbidden",
        "You are not allowed to do this.",
        "无权执行此操作。",
        obligations=tuple(obligations) or ("O24-13.3",),
        reasons=reasons,
        http_status=403,
        exit_code=1,
    )


def database_unavailable(exc: BaseException | None = None) -> PiguardError:
    """The database is unreachable or its schema is older than the code (no SQL or values shown)."""
    kind = type(exc).__name__ if exc is not None else "error"
    return PiguardError(
        "database_unavailable",
        f"The database is unreachable or not up to date ({kind}): check PIGUARD_DATABASE_URL and run "
        "`piguard db upgrade`.",
        f"数据库无法连接或结构不是最新（{kind}）：请检查 PIGUARD_DATABASE_URL 并运行 `piguard db upgrade`。",
        http_status=503,
        exit_code=2,
    )
