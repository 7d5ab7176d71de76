"""The collection-and-use rules (privacy policy) generated from the inventory, in Chinese and
English, versioned, with the material changes between versions and an HTML diff (O24-8, O24-9.2,
O24-12, CSL-41.1).

The text comes from Jinja templates (``templates/privacy.zh.md.j2``, ``privacy.en.md.j2``); an
operator overrides them by putting files of the same names in ``PIGUARD_RULES_TEMPLATES_DIR``.
"""

from __future__ import annotations

import difflib
import html
import re
from datetime import date
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.config import get_settings
from piguard.core.errors import FieldError, PiguardError, not_found, validation_error
from piguard.discovery.categories import BY_CODE
from piguard.inventory import service
from piguard.inventory.document import InventoryDoc, shares_for
from piguard.inventory.models import RulesVersion
from piguard.inventory.sharing import sharing_of_doc
from piguard.inventory.taxonomy import location_text, retention_text, rules_defaults, taxonomy
from piguard.regulations.markers import carries
from piguard.regulations.parameters import today, value

LANGS = ("zh", "en")


def _environment() -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    custom = get_settings().rules_templates_dir
    if custom is not None:
        loaders.append(jinja2.FileSystemLoader(str(custom)))
    loaders.append(jinja2.PackageLoader("piguard.inventory", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # Markdown text; the HTML view escapes it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _pick(v: Any, lang: str) -> str:
    if isinstance(v, dict):
        return str(v.get(lang) or v.get("zh") or "")
    return str(v)


def _cat(code: str, lang: str) -> str:
    c = BY_CODE.get(code)
    return (c.zh if lang == "zh" else c.en) if c else code


def _join(items: list[str], lang: str) -> str:
    return "、".join(items) if lang == "zh" else ", ".join(items)


def _default_channels(op: Any, lang: str) -> dict[str, str]:
    how = []
    if op.contact:
        how.append(f"发送电子邮件至 {op.contact}" if lang == "zh" else f"e-mail {op.contact}")
    if op.phone:
        how.append(f"拨打电话 {op.phone}" if lang == "zh" else f"call {op.phone}")
    if op.address:
        how.append(f"来信寄至 {op.address}" if lang == "zh" else f"write to {op.address}")
    text = ("，或".join(how) if lang == "zh" else ", or ".join(how)) or op.name
    return dict.fromkeys(("inquiry", "correction", "deletion", "cancellation", "complaint"), text)


@carries("O24-8", "O24-9.2", "O24-12", "CSL-41.1")
def context(doc: InventoryDoc, lang: str, version: int, effective: date) -> dict[str, Any]:
    """Everything the templates say, in ``lang``, derived from the inventory."""
    kinds = taxonomy()
    op = doc.operator
    channels = _default_channels(op, lang)
    channels.update(
        {k: _pick(v.model_dump() if hasattr(v, "model_dump") else v, lang) for k, v in op.channels.items()}
    )
    parties = {t.id: t for t in doc.third_parties}
    party_purposes = {t.id: list(t.purposes) for t in doc.third_parties}
    per_purpose: dict[str, dict[str, Any]] = {p.id: {"cats": {}, "parties": set()} for p in doc.purposes}
    scope: dict[str, None] = {}
    storage: dict[tuple[str, str], dict[str, None]] = {}
    for s in doc.systems:
        for t in s.tables:
            for f in t.fields:
                for c in f.categories:
                    scope.setdefault(c, None)
                    storage.setdefault((s.location, retention_text(f.retention, lang)), {}).setdefault(
                        _cat(c, lang), None
                    )
                for pid in f.purposes:
                    entry = per_purpose.get(pid)
                    if entry is None:
                        continue
                    for c in f.categories:
                        entry["cats"].setdefault(c, None)
                    entry["parties"].update(shares_for(f.third_parties, party_purposes, pid))
    names = {
        p.id: (p.name_zh or kinds[p.id].zh) if lang == "zh" else (p.name_en or kinds[p.id].en)
        for p in doc.purposes
    }
    purposes = []
    for p in doc.purposes:
        kind = kinds[p.id]
        required = kind.required if p.required is None else p.required
        purposes.append(
            {
                "id": p.id,
                "name": names[p.id],
                "required": required,
                "categories": _join([_cat(c, lang) for c in per_purpose[p.id]["cats"]], lang),
                "methods": kind.methods_zh if lang == "zh" else kind.methods_en,
                "refusal": (kind.refusal_zh if lang == "zh" else kind.refusal_en)
                or ("基本服务不受影响" if lang == "zh" else "the basic service is unaffected"),
                "third_parties": _join([parties[q].name for q in sorted(per_purpose[p.id]["parties"])], lang),
            }
        )
    register = sharing_of_doc(doc)
    sharing = [
        {
            "name": r.name,
            "contact": r.contact,
            "location": location_text(r.location, lang),
            "purpose": _pick(r.purpose_text, lang),
            "categories": _join([_cat(c, lang) for c in r.categories], lang),
            "purposes": _join([names[p] for p in r.purposes if p in names], lang),
        }
        for r in register
    ]
    measures = [
        _pick(m.model_dump() if hasattr(m, "model_dump") else m, lang) for m in op.security_measures
    ] or [_pick(m, lang) for m in rules_defaults()["security_measures"]]
    return {
        "lang": lang,
        "version": version,
        "effective_date": effective.isoformat(),
        "operator": {"name": op.name, "address": op.address, "contact": op.contact, "phone": op.phone},
        "channels": channels,
        "purposes": purposes,
        "optional_purposes": [p for p in purposes if not p["required"]],
        "scope": _join([_cat(c, lang) for c in scope], lang),
        "sharing": sharing,
        "storage": [
            {"location": location_text(loc, lang), "retention": ret, "categories": _join(list(cats), lang)}
            for (loc, ret), cats in storage.items()
        ],
        "outside_china": any(s.location == "outside_china" for s in doc.systems),
        "security_measures": measures,
        # The reply period is the dated parameter of O24-12, never a literal.
        "complaint_reply_days": value("complaint.reply_days", on=effective),
    }


def render(doc: InventoryDoc, lang: str, version: int, effective: date) -> str:
    if lang not in LANGS:
        raise validation_error([FieldError("lang", f"unknown language {lang!r}; known: zh, en")])
    try:
        template = _environment().get_template(f"privacy.{lang}.md.j2")
        return template.render(**context(doc, lang, version, effective))
    except jinja2.TemplateError as exc:
        raise PiguardError(
            "rules_template_error",
            f"The rules template privacy.{lang}.md.j2 cannot be rendered: {type(exc).__name__}: {exc}",
            f"规则模板 privacy.{lang}.md.j2 无法渲染：{type(exc).__name__}：{exc}",
            obligations=("O24-8",),
            http_status=500,
            exit_code=2,
        ) from None


# ------------------------------------------------------------------ material changes and publishing


def _uses(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        p["id"]: {"cats": set(), "parties": set(), "required": bool(p.get("required"))}
        for p in snapshot.get("purposes", [])
    }
    party_purposes = {t["id"]: list(t.get("purposes", [])) for t in snapshot.get("third_parties", [])}
    for s in snapshot.get("systems", []):
        for t in s.get("tables", []):
            for f in t.get("fields", []):
                for pid in f.get("purposes", []):
                    if pid in out:
                        out[pid]["cats"].update(f.get("categories", []))
                        out[pid]["parties"].update(
                            shares_for(f.get("third_parties", []), party_purposes, pid)
                        )
    return out


@carries("O24-8")
def material_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Per purpose, what changed materially: a new purpose, a new category, a new third party, an
    optional purpose made required. Consents given before such a change must be renewed."""
    before = _uses(old or {})
    changes: dict[str, list[dict[str, str]]] = {}
    for pid, now in _uses(new).items():
        was = before.get(pid)
        items: list[dict[str, str]] = []
        if was is None:
            items.append({"kind": "new_purpose", "value": pid})
        else:
            items += [{"kind": "new_category", "value": c} for c in sorted(now["cats"] - was["cats"])]
            items += [
                {"kind": "new_third_party", "value": q} for q in sorted(now["parties"] - was["parties"])
            ]
            if now["required"] and not was["required"]:
                items.append({"kind": "made_required", "value": pid})
        if items:
            changes[pid] = items
    return changes


@carries("O24-8", "O24-9.2", "CSL-41.1")
def publish(session: Session, actor: Actor, effective: date | None = None) -> RulesVersion:
    """Publish the rules generated from the current inventory as the next version."""
    service.forget_published_sharing(session)
    doc = service.current_doc(session)
    snapshot = service.export(session)
    last = service.current_rules_version(session)
    if last is not None and last.snapshot == snapshot:
        raise PiguardError(
            "rules_unchanged",
            f"The inventory has not changed since version {last.number}; nothing to publish.",
            f"清单自第 {last.number} 版以来没有变化，无需发布。",
            obligations=("O24-8",),
            http_status=409,
            exit_code=1,
        )
    day = effective or today()
    if last is not None and day < last.effective_date:
        raise validation_error(
            [FieldError("effective_date", f"before the current version's {last.effective_date.isoformat()}")],
            "A new version cannot take effect before the current one.",
            "新版本的生效日期不能早于现行版本。",
        )
    number = (last.number if last else 0) + 1
    changes = material_changes(last.snapshot if last else None, snapshot)
    version = RulesVersion(
        number=number,
        effective_date=day,
        published_by=actor.id or actor.type,
        text_zh=render(doc, "zh", number, day),
        text_en=render(doc, "en", number, day),
        snapshot=snapshot,
        material_purposes=sorted(changes),
        changes=changes,
    )
    session.add(version)
    session.flush()
    record(
        session,
        action="inventory.rules.publish",
        actor=actor,
        outcome="ok",
        obligations=("O24-8", "O24-9.2"),
        detail={"version": number, "effective_date": day.isoformat(), "material_purposes": sorted(changes)},
    )
    return version


def versions(session: Session) -> list[RulesVersion]:
    return list(session.scalars(select(RulesVersion).order_by(RulesVersion.number.desc())))


def get_version(session: Session, number: int) -> RulesVersion:
    v = session.get(RulesVersion, number) if 0 < number < 2**31 else None
    if v is None:
        raise not_found("Rules version", "规则版本", str(number))
    return v


def text_of(v: RulesVersion, lang: str) -> str:
    if lang not in LANGS:
        raise validation_error([FieldError("lang", f"unknown language {lang!r}; known: zh, en")])
    return v.text_zh if lang == "zh" else v.text_en


def version_dict(v: RulesVersion, lang: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": v.number,
        "effective_date": v.effective_date.isoformat(),
        "published_at": v.published_at.isoformat(),
        "material_purposes": list(v.material_purposes),
        "changes": dict(v.changes),
    }
    if lang is not None:
        out["lang"] = lang
        out["text"] = text_of(v, lang)
    return out


def diff_html(session: Session, old: int, new: int, lang: str) -> str:
    """A side-by-side HTML table of the differences between two versions (difflib)."""
    a, b = get_version(session, old), get_version(session, new)
    return difflib.HtmlDiff(wrapcolumn=70).make_table(
        text_of(a, lang).splitlines(),
        text_of(b, lang).splitlines(),
        fromdesc=f"v{a.number} ({a.effective_date.isoformat()})",
        todesc=f"v{b.number} ({b.effective_date.isoformat()})",
        context=True,
        numlines=2,
    )


def diff_lines(session: Session, old: int, new: int, lang: str) -> list[str]:
    a, b = get_version(session, old), get_version(session, new)
    return list(
        difflib.unified_diff(
            text_of(a, lang).splitlines(), text_of(b, lang).splitlines(), f"v{old}", f"v{new}", lineterm=""
        )
    )


# ------------------------------------------------------------------ Markdown to HTML (our templates' subset)

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _inline(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text))


def markdown_html(text: str) -> str:
    """Headings, bullet lists and paragraphs, escaped: the subset the rules templates use."""
    out: list[str] = []
    in_list = False
    para: list[str] = []

    def flush() -> None:
        nonlocal in_list
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if in_list:
            out.append("</ul>")
            in_list = False

    for raw in text.splitlines():
        line = raw.rstrip()
        m = re.match(r"^(#{1,4}) (.*)$", line)
        if m:
            flush()
            n = len(m.group(1))
            out.append(f"<h{n}>{_inline(m.group(2))}</h{n}>")
        elif line.lstrip().startswith("- "):
            if para:
                out.append(f"<p>{_inline(' '.join(para))}</p>")
                para.clear()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(line.lstrip()[2:])}</li>")
        elif not line.strip():
            flush()
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            para.append(line.strip())
    flush()
    return "\n".join(out)
