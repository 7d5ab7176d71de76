"""The one error shape on a terminal: code, zh/en message, obligation ids, field errors, reasons.

Shared by the root CLI group (every sub-command) and sub-commands that render errors themselves.
Text is escaped, so brackets in a message ("[redacted]") are shown, not read as Rich markup.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape

from piguard.core.errors import PiguardError


def render_error(err: PiguardError, as_json: bool = False) -> None:
    if as_json:
        sys.stderr.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")
        return
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(
        f"[bold red]error[/] {escape(err.code)}: {escape(err.message_en)} / {escape(err.message_zh)}"
    )
    if err.obligations:
        console.print(f"  obligations: {escape(', '.join(err.obligations))}")
    for f in err.fields:
        console.print(f"  {escape(f.field)}: {escape(f.message)}")
    for r in err.reasons:
        console.print(
            f"  - {escape('[' + ', '.join(r.obligations) + ']')} {escape(r.code)}: "
            f"{escape(r.message_en)} / {escape(r.message_zh)}"
        )
