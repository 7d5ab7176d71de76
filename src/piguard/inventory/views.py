"""Inventory API (``inventory.read`` / ``inventory.manage``) and the public rules API (no login,
O24-8): ``/api/rules/privacy/current``, ``/api/rules/privacy/versions[/{n}]``, ``/api/rules/privacy/diff``."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from piguard.core.deps import db_session
from piguard.core.errors import FieldError, PiguardError, validation_error
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.inventory import rules, service
from piguard.inventory.document import decode, parse, validate
from piguard.inventory.lint import LintReport, lint_text
from piguard.inventory.taxonomy import taxonomy
from piguard.regulations.markers import carries

router = APIRouter(tags=["inventory"])
_READ = require_action("inventory.read")
_MANAGE = require_action("inventory.manage")


@router.get("/api/inventory", summary="The inventory, in the import file's shape")
def get_inventory(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    return service.export(session)


@router.get("/api/inventory/yaml", summary="The inventory as YAML", response_class=PlainTextResponse)
def get_inventory_yaml(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> PlainTextResponse:
    return PlainTextResponse(service.export_yaml(session), media_type="application/yaml; charset=utf-8")


@router.put("/api/inventory", summary="Replace the inventory (JSON, all or nothing)")
@carries("O24-5", "O24-8")
def put_inventory(
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    doc = validate(body, "request body")
    return service.apply(session, doc, principal.as_actor(), source="api").to_dict()


@router.post("/api/inventory/import", summary="Replace the inventory from a YAML body (all or nothing)")
async def import_yaml(
    request: Request,
    filename: str = Query("inventory.yaml", max_length=200),
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    text = decode(await request.body(), filename)
    return service.apply(session, parse(text, filename), principal.as_actor(), source="yaml").to_dict()


@router.get("/api/inventory/check", summary="Minimisation check (O24-5, O24-9.3, CSL-41.2)")
def check(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    return service.check(session).to_dict()


@router.get("/api/inventory/purposes", summary="Declared purposes with their categories and third parties")
def purposes(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [p.to_dict() for p in service.purposes(session)]


@router.get(
    "/api/inventory/sharing",
    summary="The third-party sharing register: recipients, what they receive, for which purposes (CSL-42.1)",
)
@carries("CSL-42.1")
def sharing(
    _: Principal = Depends(_READ), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [r.to_dict() for r in service.sharing_register(session)]


@router.get("/api/inventory/taxonomy", summary="Every known purpose and the categories it may need")
def purpose_taxonomy(_: Principal = Depends(_READ)) -> list[dict[str, Any]]:
    return [
        {
            "id": k.id,
            "name": {"zh": k.zh, "en": k.en},
            "required": k.required,
            "optional_only": k.optional_only,
            "allowed_categories": sorted(k.allowed),
        }
        for k in taxonomy().values()
    ]


@router.post(
    "/api/inventory/publish", status_code=201, summary="Publish the rules as the next version (O24-8)"
)
def publish(
    effective_date: date | None = Body(None, embed=True),
    principal: Principal = Depends(_MANAGE),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return rules.version_dict(rules.publish(session, principal.as_actor(), effective=effective_date))


class LintRequest(BaseModel):
    """Lint pasted text, or a published rules version (in one language)."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=2_000_000)
    format: Literal["auto", "text", "html", "markdown"] = "auto"
    version: int | None = None
    lang: Literal["zh", "en"] = "zh"


def lint_request(session: Session, body: LintRequest) -> LintReport:
    """The lint of the pasted text or of a published version; exactly one of the two."""
    if (body.text is None) == (body.version is None):
        raise validation_error(
            [
                FieldError(
                    "text",
                    "give either text or version, not both / 请提供 text 或 version 之一（不能同时提供）",
                )
            ]
        )
    if body.version is not None:
        v = rules.get_version(session, body.version)
        return lint_text(rules.text_of(v, body.lang), "markdown")
    if not (body.text or "").strip():
        raise validation_error([FieldError("text", "empty / 政策文本为空")])
    return lint_text(body.text or "", body.format)


@router.post("/api/policy/lint", summary="Lint a policy or a published rules version (O24-8, O24-9.2)")
@carries("O24-8", "O24-9.2", "O24-12")
def policy_lint(
    body: LintRequest,
    _: Principal = Depends(_READ),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """The shape of ``piguard policy lint --format json``: ``{"items": [...]}``."""
    return lint_request(session, body).to_dict()


# ------------------------------------------------------------------ public (no login, O24-8)


def _lang(lang: str) -> str:
    if lang not in rules.LANGS:
        raise validation_error([FieldError("lang", f"unknown language {lang!r}; known: zh, en")])
    return lang


def no_rules() -> PiguardError:
    return PiguardError(
        "no_rules",
        "No rules have been published yet.",
        "尚未发布规则。",
        obligations=("O24-8",),
        http_status=404,
    )


@router.get("/api/rules/privacy/current", summary="The rules in force (public)")
def current(lang: str = "zh", session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    v = service.current_rules_version(session)
    if v is None:
        raise no_rules()
    return rules.version_dict(v, _lang(lang))


@router.get("/api/rules/privacy/versions", summary="Every published version (public)")
def version_list(session: Session = Depends(db_session, scope="function")) -> list[dict[str, Any]]:
    return [rules.version_dict(v) for v in rules.versions(session)]


@router.get("/api/rules/privacy/versions/{number}", summary="One published version (public)")
def version(
    number: int, lang: str = "zh", session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    return rules.version_dict(rules.get_version(session, number), _lang(lang))


@router.get("/api/rules/privacy/diff", summary="Differences between two versions (public)")
def diff(
    old: int = Query(..., alias="from"),
    new: int = Query(..., alias="to"),
    lang: str = "zh",
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    lang = _lang(lang)
    return {
        "from": old,
        "to": new,
        "lang": lang,
        "unified": rules.diff_lines(session, old, new, lang),
        "material_purposes": sorted(
            {p for v in rules.versions(session) if old < v.number <= new for p in v.material_purposes}
        ),
    }
