"""One error shape for API and CLI: code, message (zh and en), obligation ids, field errors.

Clients never see stack traces. A refusal by a rule names the obligations it rests on.
"""

from __future__ import annotations

import sys
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


def cli_input_error(exc: BaseException) -> PiguardError | None:
    """What a command-line user gets for an exception that bad input raised below the command
    (a number too large for the database, a path the system refuses, a file that is not UTF-8, a
    bad value in a settings model): the one error shape, exit 2, instead of a traceback. ``None``
    for anything else, which stays a bug to fix where it happens."""
    sa_exc = sys.modules.get("sqlalchemy.exc")  # not imported by commands that never use it
    if isinstance(exc, OverflowError) or (sa_exc is not None and isinstance(exc, sa_exc.DataError)):
        # SQLite's driver raises OverflowError; PostgreSQL answers DataError (out of range, NUL)
        return validation_error(
            [
                FieldError(
                    "input",
                    "a number is too large, or a value the database cannot store / 数值过大或无法存储",
                )
            ],
            "A number in the input is too large, or a value cannot be stored.",
            "输入中的数值过大或含有无法存储的值。",
        )
    if isinstance(exc, UnicodeDecodeError):
        return validation_error(
            [FieldError("file", f"not UTF-8 text (byte {exc.start}) / 不是 UTF-8 文本")],
            "A file given is not UTF-8 text.",
            "所给文件不是 UTF-8 文本。",
        )
    if isinstance(exc, OSError):
        # a path too long, a folder where a file is wanted, a host that cannot be bound: the
        # system's own words and what it was about (the user typed it; nothing is logged)
        what = exc.filename if exc.filename is not None else ""
        why = exc.strerror or type(exc).__name__
        return validation_error(
            [FieldError("path" if exc.filename is not None else "input", f"{why}: {str(what)[:200]}")],
            f"The system refused it: {why}" + (f" ({str(what)[:200]})" if what else "") + ".",
            f"系统拒绝了该操作：{why}" + (f"（{str(what)[:200]}）" if what else "") + "。",
        )
    if type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):  # pydantic, not imported
        return validation_error(
            [
                FieldError(".".join(str(p) for p in e.get("loc", ())) or "input", str(e.get("msg", "")))
                for e in exc.errors()
            ]
        )
    if isinstance(exc, ValueError) and "null character" in str(exc):
        return validation_error(
            [FieldError("input", "contains a NUL character / 含有 NUL 字符")],
            "The input contains a NUL character.",
            "输入含有 NUL 字符。",
        )
    if isinstance(exc, UnicodeError):  # e.g. a host name label too long for IDNA
        return validation_error(
            [FieldError("input", f"{exc} / 无法编码")], "A value cannot be encoded.", "某个值无法编码。"
        )
    return None
