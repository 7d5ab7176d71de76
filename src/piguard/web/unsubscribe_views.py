"""The one-click unsubscribe page of commercial e-mail (NPC-7, NPC-8, O31-20; RFC 8058).

Public by design: the signed token in the link is the authority. ``GET`` shows whose messages the
link stops and a button (link scanners and previews fetch links and must change nothing); ``POST``
(the button, or a mail client's one-click ``List-Unsubscribe=One-Click``) ends the consent at once.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import PiguardError
from piguard.messaging.subscriptions import unsubscribe as service
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT
from piguard.web.views import render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "unsub.title": ("退订商业电子邮件", "Unsubscribe from commercial e-mail"),
        "unsub.ask": (
            "点击下方按钮后，本邮箱将不再收到以下发送方的商业电子邮件：",
            "After you press the button this address will no longer receive commercial e-mail from:",
        ),
        "unsub.button": ("退订", "Unsubscribe"),
        "unsub.done": (
            "已退订。本邮箱将不再收到以下发送方的商业电子邮件：",
            "Done. This address will no longer receive commercial e-mail from:",
        ),
        "unsub.already": (
            "此前已退订，无需再次操作：",
            "You had already unsubscribed; nothing more is needed for:",
        ),
        "unsub.law": (
            "依据《全国人民代表大会常务委员会关于加强网络信息保护的决定》第七条及《通信短信息和语音呼叫服务管理规定》第二十条。",
            "Under Art. 7 of the NPC Standing Committee Decision on Strengthening Network Information "
            "Protection and Art. 20 of MIIT Order 31.",
        ),
    }
)


def _error(request: Request, err: PiguardError) -> HTMLResponse:
    return render(request, "unsubscribe.html", None, status_code=err.http_status, error=err, state="error")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def ask(
    request: Request, token: str, session: Session = Depends(db_session, scope="function")
) -> HTMLResponse:
    try:
        link = service.read_link(session, token)
    except PiguardError as err:
        return _error(request, err)
    return render(
        request, "unsubscribe.html", None, state="ask", sender=link.content_provider_name, token=token
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
@carries("NPC-7", "NPC-8", "O31-20")
def confirm(
    request: Request, token: str, session: Session = Depends(db_session, scope="function")
) -> HTMLResponse:
    try:
        res = service.unsubscribe(session, token)
    except PiguardError as err:
        return _error(request, err)
    state = "already" if res.already_ended else "done"
    return render(
        request, "unsubscribe.html", None, state=state, sender=res.content_provider_name, token=token
    )
