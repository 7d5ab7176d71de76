"""Console pages for the inventory (view, edit as YAML, check, publish, versions, diff) and the
public rules pages (no login, O24-8): ``/rules/privacy`` and ``/rules/privacy/versions/{n}``.
Thin: every rule lives in ``piguard.inventory``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.discovery.categories import BY_CODE
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.inventory import rules, service
from piguard.inventory.document import parse
from piguard.inventory.taxonomy import location_text, retention_text
from piguard.regulations.markers import carries
from piguard.web.i18n import TEXT, lang_of
from piguard.web.messaging_views import _forbidden_post
from piguard.web.views import _permitted, console_principal, render

router = APIRouter(include_in_schema=False)

TEXT.update(
    {
        "nav.inventory": ("个人信息清单", "PI inventory"),
        "inv.title": ("个人信息清单", "Personal-information inventory"),
        "inv.none": ("尚无清单，请在下方粘贴 YAML 并保存。", "No inventory yet: paste YAML below and save."),
        "inv.operator": ("运营者", "Operator"),
        "inv.purposes": ("用途", "Purposes"),
        "inv.required": ("必要", "Required"),
        "inv.optional": ("可选", "Optional"),
        "inv.systems": ("系统与字段", "Systems and fields"),
        "inv.system": ("系统", "System"),
        "inv.table": ("表", "Table"),
        "inv.column": ("字段", "Column"),
        "inv.categories": ("类别", "Categories"),
        "inv.retention": ("保存期限", "Retention"),
        "inv.location": ("存储地点", "Location"),
        "inv.third_parties": ("第三方", "Third parties"),
        "inv.necessity": ("必要性", "Necessity"),
        "inv.check": ("最小必要检查", "Minimisation check"),
        "inv.check_ok": ("未发现问题。", "No findings."),
        "inv.edit": ("编辑清单（YAML）", "Edit the inventory (YAML)"),
        "inv.save": ("保存清单", "Save inventory"),
        "inv.saved": ("清单已保存", "Inventory saved"),
        "inv.publish": ("发布规则新版本", "Publish a new rules version"),
        "inv.effective": ("生效日期", "Effective date"),
        "inv.published": ("已发布版本", "Published version"),
        "inv.versions": ("规则版本", "Rules versions"),
        "inv.version": ("版本", "Version"),
        "inv.material": ("实质性变更的用途（需重新同意）", "Purposes changed materially (consent renewal)"),
        "inv.diff": ("与上一版本的差异", "Diff to the previous version"),
        "inv.public": ("公开页面", "Public page"),
        "inv.errors": ("清单未保存：", "The inventory was not saved:"),
        "rules.privacy.title": (
            "个人信息收集使用规则",
            "Rules for collecting and using personal information",
        ),
        "rules.privacy.history": ("历史版本", "Version history"),
        "rules.privacy.current": ("现行版本", "Current version"),
        "rules.privacy.none": ("尚未发布规则。", "No rules have been published yet."),
    }
)


def _cats(codes: list[str], lang: str) -> str:
    names = [(BY_CODE[c].zh if lang == "zh" else BY_CODE[c].en) if c in BY_CODE else c for c in codes]
    return "、".join(names) if lang == "zh" else ", ".join(names)


def _page(
    request: Request, principal: Principal, session: Session, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    has = service.has_inventory(session)
    doc = service.export(session) if has else {}
    report = service.check(session) if has else None
    can_manage = decide_access(principal, "inventory.manage", context={"session": session}).allowed
    current = service.current_rules_version(session)
    ctx: dict[str, Any] = {
        "doc": doc,
        "report": report,
        "can_manage": can_manage,
        "current": current,
        "yaml_text": service.to_yaml(doc) if doc else "",
        "cats": lambda codes: _cats(codes, lang),
        "retention": lambda r: retention_text(r, lang),
        "location": lambda code: location_text(code, lang),
        "errors": None,
        "flash": request.query_params.get("saved") or None,
        "published": request.query_params.get("published") or None,
    }
    ctx.update(extra)
    return render(request, "inventory.html", principal, status_code=status_code, active="inventory", **ctx)


@router.get("/console/inventory")
def inventory_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "inventory.read", session)
    return denied if denied is not None else _page(request, principal, session)


@router.post("/console/inventory")
@carries("O24-5", "O24-8")
def inventory_save(
    request: Request,
    yaml_text: str = Form("", max_length=2_000_000),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    denied = _forbidden_post(request, principal, session, "inventory.manage")
    if denied is not None:
        return denied
    try:
        doc = parse(yaml_text, "inventory.yaml")
    except PiguardError as err:
        return _page(
            request, principal, session, status_code=err.http_status, errors=err, yaml_text=yaml_text
        )
    summary = service.apply(session, doc, principal.as_actor(), source="console")
    return RedirectResponse(f"/console/inventory?saved={summary.fields}", status_code=303)


@router.post("/console/inventory/publish")
@carries("O24-8")
def inventory_publish(
    request: Request,
    effective_date: str = Form("", max_length=10),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    from datetime import date

    denied = _forbidden_post(request, principal, session, "inventory.manage")
    if denied is not None:
        return denied
    try:
        day = None
        if effective_date:
            try:
                day = date.fromisoformat(effective_date)
            except ValueError:
                raise validation_error(
                    [FieldError("effective_date", "expected YYYY-MM-DD / 日期格式应为 YYYY-MM-DD")]
                ) from None
        v = rules.publish(session, principal.as_actor(), effective=day)
    except PiguardError as err:
        return _page(request, principal, session, status_code=err.http_status, errors=err)
    return RedirectResponse(f"/console/inventory/versions?published={v.number}", status_code=303)


@router.get("/console/inventory/versions")
def inventory_versions(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    denied = _permitted(request, principal, "inventory.read", session)
    if denied is not None:
        return denied
    return render(
        request,
        "inventory_versions.html",
        principal,
        active="inventory",
        versions=rules.versions(session),
        published=request.query_params.get("published"),
    )


# ------------------------------------------------------------------ public pages (no login)


def _public(request: Request, session: Session, number: int | None) -> HTMLResponse:
    lang = lang_of(request)
    all_versions = rules.versions(session)
    try:
        if number is None:
            v = all_versions[0] if all_versions else None
        else:
            v = rules.get_version(session, number)
    except PiguardError as err:
        return render(request, "error.html", None, status_code=err.http_status, error=err)
    body = Markup(rules.markdown_html(rules.text_of(v, lang))) if v is not None else None
    previous = next((p for p in all_versions if v is not None and p.number < v.number), None)
    diff = (
        Markup(rules.diff_html(session, previous.number, v.number, lang))
        if v is not None and previous is not None
        else None
    )
    return render(
        request,
        "rules_privacy.html",
        None,
        status_code=200 if v is not None else 404,
        v=v,
        body=body,
        versions=all_versions,
        previous=previous,
        diff=diff,
    )


@router.get("/rules/privacy")
@carries("O24-8")
def public_rules(request: Request, session: Session = Depends(db_session, scope="function")) -> HTMLResponse:
    return _public(request, session, None)


@router.get("/rules/privacy/versions/{number}")
def public_rules_version(
    number: int, request: Request, session: Session = Depends(db_session, scope="function")
) -> HTMLResponse:
    return _public(request, session, number)
