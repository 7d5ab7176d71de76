"""Console pages for the inventory (view, edit as YAML, check, publish, versions, diff) and the
public rules pages (no login, O24-8): ``/rules/privacy`` and ``/rules/privacy/versions/{n}``.
Thin: every rule lives in ``piguard.inventory``."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.discovery.categories import BY_CODE
from piguard.identity.access import decide_access
from piguard.identity.principal import Principal
from piguard.inventory import rules, service
from piguard.inventory.document import parse
from piguard.inventory.lint import FORMATS, LintReport
from piguard.inventory.taxonomy import location_text, retention_text
from piguard.inventory.views import LintRequest, lint_request
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
        "lint.title": ("隐私政策检查", "Policy lint"),
        "lint.intro": (
            "检查隐私政策是否告知了规则要求的每一项（O24-8、O24-9.2、O24-12、CSL-41）：粘贴政策文本，或选择一个已发布的规则版本。",
            "Check that a privacy policy discloses every item the rules require (O24-8, O24-9.2, O24-12, CSL-41): paste a policy or pick a published rules version.",
        ),
        "lint.paste": ("粘贴政策", "Paste a policy"),
        "lint.text": ("政策文本", "Policy text"),
        "lint.format": ("格式", "Format"),
        "lint.pick": ("已发布版本", "A published version"),
        "lint.lang": ("语言", "Language"),
        "lint.run": ("检查", "Lint"),
        "lint.item": ("项目", "Item"),
        "lint.result": ("结果", "Result"),
        "lint.ids": ("义务", "Obligations"),
        "lint.evidence": ("依据", "Evidence"),
        "lint.present": ("已告知", "present"),
        "lint.absent": ("未告知", "absent"),
        "lint.summary": ("已告知 {n} / {total} 项", "{n} of {total} items present"),
        "lint.complete": ("每一项均已告知。", "Every item is present."),
        "lint.of_version": ("规则第 {n} 版（{lang}）", "Rules version {n} ({lang})"),
        "lint.pasted": ("粘贴的政策", "The pasted policy"),
        "lint.marked": ("原文（依据高亮）", "The text, evidence highlighted"),
        "lint.errors": ("无法检查：", "Cannot lint:"),
        "lint.current": ("检查现行版本", "Lint the current version"),
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


# ------------------------------------------------------------------ policy lint (inventory.read)


def _highlight(text: str, report: LintReport) -> Markup:
    """The text with every evidence span in a <mark> naming its items (spans may overlap)."""
    spans = [(e.start, e.end, r.id) for r in report.items for e in r.evidence]
    cuts = sorted({0, len(text), *(a for a, _, _ in spans), *(z for _, z, _ in spans)})
    out: list[str] = []
    for a, z in pairwise(cuts):
        chunk = escape(text[a:z])
        ids = sorted({i for sa, sz, i in spans if sa <= a and z <= sz})
        out.append(f'<mark data-items="{" ".join(ids)}">{chunk}</mark>' if ids else str(chunk))
    return Markup("".join(out))


def _lint_page(
    request: Request,
    principal: Principal,
    session: Session,
    form: dict[str, str],
    status_code: int = 200,
    run: bool = False,
) -> HTMLResponse:
    lang = lang_of(request)
    report: LintReport | None = None
    text = ""
    error: PiguardError | None = None
    if run:
        try:
            version_raw = form.get("version", "").strip()
            if form.get("source") == "version" or (version_raw and not form.get("text", "").strip()):
                try:
                    number = int(version_raw)
                except ValueError:
                    raise validation_error(
                        [FieldError("version", "pick a published version / 请选择已发布的版本")]
                    ) from None
                body = LintRequest(
                    version=number, lang=form.get("lang") if form.get("lang") == "en" else "zh"
                )
                text = rules.text_of(rules.get_version(session, number), body.lang)
            else:
                fmt = form.get("format", "auto")
                if fmt not in FORMATS:
                    raise validation_error([FieldError("format", f"one of {', '.join(FORMATS)}")])
                body = LintRequest.model_validate({"text": form.get("text", ""), "format": fmt})
                text = body.text or ""
            report = lint_request(session, body)
        except PiguardError as err:
            error, status_code = err, err.http_status
    present = sum(r.present for r in report.items) if report else 0
    ctx: dict[str, Any] = {
        "form": form,
        "versions": rules.versions(session),
        "formats": FORMATS,
        "report": report,
        "present": present,
        "marked": _highlight(text, report) if report is not None else None,
        "lint_error": error,
        "ui_lang": lang,
    }
    htmx = request.headers.get("hx-request") == "true"
    name = "inventory_lint_result.html" if htmx else "inventory_lint.html"
    return render(request, name, principal, status_code=status_code, active="inventory", **ctx)


@router.get("/console/inventory/lint")
@carries("O24-8", "O24-9.2")
def inventory_lint_page(
    request: Request,
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """The lint form; with ``?version=N[&lang=zh|en]`` the lint of that published version."""
    denied = _permitted(request, principal, "inventory.read", session)
    if denied is not None:
        return denied
    q = request.query_params
    form = {"source": "version", "version": q.get("version", ""), "lang": q.get("rules_lang", "zh")}
    return _lint_page(request, principal, session, form, run=bool(form["version"]))


@router.post("/console/inventory/lint")
@carries("O24-8", "O24-9.2")
def inventory_lint_run(
    request: Request,
    source: str = Form("text", max_length=10),
    text: str = Form("", max_length=2_000_000),
    input_format: str = Form("auto", alias="format", max_length=10),
    version: str = Form("", max_length=12),
    rules_lang: str = Form("zh", max_length=2),
    principal: Principal = Depends(console_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    denied = _forbidden_post(request, principal, session, "inventory.read")
    if denied is not None:
        return denied
    form = {"source": source, "text": text, "format": input_format, "version": version, "lang": rules_lang}
    return _lint_page(request, principal, session, form, run=True)


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
