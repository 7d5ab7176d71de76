"""Free text from a form, a file or an API body, checked the same way everywhere.

Each domain raises its own error (with its own code and obligations) through ``bad(field, en, zh)``;
what counts as acceptable text is decided once, here.
"""

from __future__ import annotations

from collections.abc import Callable


def clean_text(
    value: object,
    field: str,
    limit: int,
    *,
    required: bool,
    bad: Callable[[str, str, str], Exception],
) -> str:
    """``value`` stripped, or ``bad(...)`` raised: not text, empty when required, longer than
    ``limit``, or holding control characters (tab and line breaks allowed) or lone surrogates, which
    no database encoding stores."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise bad(field, "must be text", "须为文本")
    text = value.strip()
    if required and not text:
        raise bad(field, "is required", "必填")
    if len(text) > limit:
        raise bad(field, f"at most {limit} characters", f"不超过 {limit} 个字符")
    if any((ord(c) < 32 and c not in "\n\r\t") or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise bad(field, "holds control characters", "含有控制字符")
    return text
