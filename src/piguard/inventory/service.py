"""Inventory logic: import (one transaction), export, the minimisation check, discovery proposals,
and the interface other domains use (``purposes``, ``get_purpose``, ``current_rules_version``,
``material_changes_since``). Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from piguard.audit.service import Actor, record
from piguard.core.errors import FieldError, validation_error
from piguard.core.reasons import Decision, Reason
from piguard.inventory.document import InventoryDoc, LangText, parse, shares_for
from piguard.inventory.models import (
    InvField,
    InvOperator,
    InvPurpose,
    InvSystem,
    InvTable,
    InvThirdParty,
    RulesVersion,
)
from piguard.inventory.sharing import Recipient, sharing_of, sharing_of_doc
from piguard.inventory.taxonomy import taxonomy
from piguard.regulations.markers import carries

# ------------------------------------------------------------------ import / export


@dataclass(frozen=True)
class ImportSummary:
    purposes: int
    third_parties: int
    systems: int
    tables: int
    fields: int

    def to_dict(self) -> dict[str, int]:
        return {
            "purposes": self.purposes,
            "third_parties": self.third_parties,
            "systems": self.systems,
            "tables": self.tables,
            "fields": self.fields,
        }


def _text(v: str | LangText) -> Any:
    return v.model_dump() if isinstance(v, LangText) else v


@carries("O24-5", "O24-8")
def apply(session: Session, doc: InventoryDoc, actor: Actor, source: str = "api") -> ImportSummary:
    """Replace the whole inventory by ``doc`` in the caller's transaction (all or nothing)."""
    session.info.pop(_SHARING, None)
    for model in (InvField, InvTable, InvSystem, InvThirdParty, InvPurpose, InvOperator):
        session.execute(delete(model))
    op = doc.operator
    session.add(
        InvOperator(
            id=1,
            name=op.name,
            address=op.address,
            contact=op.contact,
            phone=op.phone,
            channels={k: _text(v) for k, v in op.channels.items()},
            security_measures=[_text(m) for m in op.security_measures],
        )
    )
    kinds = taxonomy()
    for i, p in enumerate(doc.purposes):
        kind = kinds[p.id]
        session.add(
            InvPurpose(
                id=p.id,
                required=kind.required if p.required is None else p.required,
                name_zh=p.name_zh or kind.zh,
                name_en=p.name_en or kind.en,
                position=i,
            )
        )
    for i, party in enumerate(doc.third_parties):
        session.add(
            InvThirdParty(
                id=party.id,
                name=party.name,
                contact=party.contact,
                location=party.location,
                purpose=_text(party.purpose),
                purposes=list(party.purposes),
                position=i,
            )
        )
    n_tables = n_fields = 0
    for si, s in enumerate(doc.systems):
        system = InvSystem(
            id=s.id,
            name=s.name,
            owner=s.owner,
            location=s.location,
            connector=s.connector.model_dump(),
            position=si,
        )
        for ti, t in enumerate(s.tables):
            table = InvTable(name=t.name, subject_keys=dict(t.subject_keys), position=ti)
            for fi, f in enumerate(t.fields):
                table.fields.append(
                    InvField(
                        column=f.column,
                        categories=list(f.categories),
                        purposes=list(f.purposes),
                        necessity=f.necessity,
                        retention=f.retention,
                        collection=f.collection,
                        third_parties=list(f.third_parties),
                        position=fi,
                    )
                )
                n_fields += 1
            system.tables.append(table)
            n_tables += 1
        session.add(system)
    summary = ImportSummary(len(doc.purposes), len(doc.third_parties), len(doc.systems), n_tables, n_fields)
    session.flush()
    record(
        session,
        action="inventory.import",
        actor=actor,
        outcome="ok",
        obligations=("O24-5", "O24-8"),
        detail={"source": source, **summary.to_dict()},
    )
    return summary


def import_yaml(session: Session, text: str, filename: str, actor: Actor) -> ImportSummary:
    return apply(session, parse(text, filename), actor, source="yaml")


def has_inventory(session: Session) -> bool:
    return session.get(InvOperator, 1) is not None


@carries("O24-8")
def export(session: Session) -> dict[str, Any]:
    """The inventory in the file's shape (what ``import`` reads back unchanged)."""
    op = session.get(InvOperator, 1)
    if op is None:
        return {}
    operator: dict[str, Any] = {"name": op.name, "address": op.address, "contact": op.contact}
    if op.phone:
        operator["phone"] = op.phone
    if op.channels:
        operator["channels"] = dict(op.channels)
    if op.security_measures:
        operator["security_measures"] = list(op.security_measures)
    out: dict[str, Any] = {"operator": operator}
    out["purposes"] = [
        {"id": p.id, "required": p.required, "name_zh": p.name_zh, "name_en": p.name_en}
        for p in session.scalars(select(InvPurpose).order_by(InvPurpose.position))
    ]
    parties = session.scalars(select(InvThirdParty).order_by(InvThirdParty.position)).all()
    if parties:
        out["third_parties"] = [
            {
                "id": t.id,
                "name": t.name,
                "contact": t.contact,
                "location": t.location,
                "purpose": t.purpose,
                **({"purposes": list(t.purposes)} if t.purposes else {}),
            }
            for t in parties
        ]
    systems = []
    for s in session.scalars(select(InvSystem).order_by(InvSystem.position)):
        tables = []
        for t in s.tables:
            fields = []
            for f in t.fields:
                fd: dict[str, Any] = {
                    "column": f.column,
                    "categories": list(f.categories),
                    "purposes": list(f.purposes),
                }
                if f.necessity:
                    fd["necessity"] = f.necessity
                fd["retention"] = f.retention
                if f.collection != "required":
                    fd["collection"] = f.collection
                if f.third_parties:
                    fd["third_parties"] = list(f.third_parties)
                fields.append(fd)
            td: dict[str, Any] = {"name": t.name}
            if t.subject_keys:
                td["subject_keys"] = dict(t.subject_keys)
            td["fields"] = fields
            tables.append(td)
        systems.append(
            {
                "id": s.id,
                "name": s.name,
                "owner": s.owner,
                "location": s.location,
                "connector": dict(s.connector),
                "tables": tables,
            }
        )
    out["systems"] = systems
    return out


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


def export_yaml(session: Session) -> str:
    return to_yaml(export(session))


def current_doc(session: Session) -> InventoryDoc:
    """The stored inventory as a validated document; a clear error when none was imported."""
    data = export(session)
    if not data:
        raise no_inventory()
    return InventoryDoc.model_validate(data)


def no_inventory() -> Any:
    return validation_error(
        [FieldError("inventory", "no inventory yet: run `piguard inventory import FILE`")],
        "There is no inventory yet; import one first (O24-8).",
        "尚无个人信息清单，请先导入（O24-8）。",
    )


# ------------------------------------------------------------------ the interface for consent & co.


@dataclass(frozen=True)
class PurposeInfo:
    id: str
    required: bool
    name_zh: str
    name_en: str
    optional_only: bool
    categories: frozenset[str]  # categories the inventory's fields hold for this purpose
    third_parties: frozenset[str]
    allowed_categories: frozenset[str]  # categories the taxonomy says the purpose may need

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "required": self.required,
            "name": {"zh": self.name_zh, "en": self.name_en},
            "optional_only": self.optional_only,
            "categories": sorted(self.categories),
            "third_parties": sorted(self.third_parties),
            "allowed_categories": sorted(self.allowed_categories),
        }


def _uses(session: Session) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    cats: dict[str, set[str]] = {}
    parties: dict[str, set[str]] = {}
    party_purposes = {t.id: list(t.purposes) for t in session.scalars(select(InvThirdParty))}
    for f in session.scalars(select(InvField)):
        for p in f.purposes:
            cats.setdefault(p, set()).update(f.categories)
            parties.setdefault(p, set()).update(shares_for(list(f.third_parties), party_purposes, p))
    return cats, parties


def purposes(session: Session) -> list[PurposeInfo]:
    """The declared purposes, in order, with the categories and third parties each one holds."""
    kinds = taxonomy()
    cats, parties = _uses(session)
    out = []
    for p in session.scalars(select(InvPurpose).order_by(InvPurpose.position)):
        kind = kinds.get(p.id)
        out.append(
            PurposeInfo(
                p.id,
                p.required,
                p.name_zh,
                p.name_en,
                kind.optional_only if kind else False,
                frozenset(cats.get(p.id, ())),
                frozenset(parties.get(p.id, ())),
                kind.allowed if kind else frozenset(),
            )
        )
    return out


def get_purpose(session: Session, purpose_id: str) -> PurposeInfo | None:
    """The declared purpose ``purpose_id``, or None when the inventory does not declare it."""
    return next((p for p in purposes(session) if p.id == purpose_id), None)


def current_rules_version(session: Session) -> RulesVersion | None:
    """The newest published rules version (its ``number``, ``effective_date`` …), or None."""
    return session.scalars(select(RulesVersion).order_by(RulesVersion.number.desc()).limit(1)).first()


@carries("O24-8")
def material_changes_since(session: Session, version: int) -> set[str]:
    """Purposes that changed materially (new purpose, new category, new third party, made required)
    in any version published after ``version``: a consent given to ``version`` must be renewed for
    them before they are allowed again."""
    changed: set[str] = set()
    for mp in session.scalars(select(RulesVersion.material_purposes).where(RulesVersion.number > version)):
        changed.update(mp or ())
    return changed


# ------------------------------------------------------------------ the sharing register (CSL-42.1)


_SHARING = "piguard.inventory.sharing_register"


@carries("CSL-42.1")
def sharing_register(session: Session) -> list[Recipient]:
    """Every registered third party with the categories and fields it receives, for which purposes,
    its location (``cross_border`` when outside China) and contact, in the inventory's order. Empty
    when there is no inventory or it declares no third party (nothing may then be provided).

    Read once per transaction (a batch of sharing decisions reads the tables once); :func:`apply`
    in the same transaction drops it."""
    tx = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get(_SHARING)
    if memo is not None and tx is not None and memo[0] is tx:
        return list(memo[1])
    register = _read_sharing_register(session)
    if tx is not None:
        session.info[_SHARING] = (tx, tuple(register))
    return register


def _read_sharing_register(session: Session) -> list[Recipient]:
    parties = session.scalars(select(InvThirdParty).order_by(InvThirdParty.position)).all()
    if not parties:
        return []
    rows = session.execute(
        select(InvSystem.id, InvTable.name, InvField)
        .join(InvTable, InvTable.system_id == InvSystem.id)
        .join(InvField, InvField.table_id == InvTable.id)
        .order_by(InvSystem.position, InvTable.position, InvField.position)
    )
    return sharing_of(parties, ((str(s), str(t), f) for s, t, f in rows))


_PUBLISHED_SHARING = "piguard.inventory.published_sharing_register"


@carries("CSL-42.1", "O24-8")
def published_sharing_register(session: Session) -> tuple[int, list[Recipient]] | None:
    """The register as the rules in force tell users (the current version's snapshot), with that
    version's number; None while no rules are published. A provision the inventory declares but
    the published rules do not was never disclosed to the people it concerns.

    Read once per transaction, as :func:`sharing_register` (``rules.publish`` drops it)."""
    tx = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get(_PUBLISHED_SHARING)
    if memo is not None and tx is not None and memo[0] is tx:
        got: tuple[int, tuple[Recipient, ...]] | None = memo[1]
        return None if got is None else (got[0], list(got[1]))
    v = current_rules_version(session)
    value = None if v is None else (v.number, tuple(sharing_of_doc(InventoryDoc.model_validate(v.snapshot))))
    if tx is not None:
        session.info[_PUBLISHED_SHARING] = (tx, value)
    return None if value is None else (value[0], list(value[1]))


def forget_published_sharing(session: Session) -> None:
    """A new version was published in this transaction: the next read builds its register."""
    session.info.pop(_PUBLISHED_SHARING, None)


def sharing_recipient(session: Session, third_party: str) -> Recipient | None:
    """The register's entry for ``third_party``, or None when it is not registered."""
    return next((r for r in sharing_register(session) if r.id == third_party), None)


# ------------------------------------------------------------------ minimisation check

_SEVERITY_ERROR, _SEVERITY_WARNING = "error", "warning"


@dataclass
class CheckReport:
    findings: list[Reason] = field(default_factory=list)

    @property
    def decision(self) -> Decision:
        if not self.findings:
            return Decision.allow(
                Reason(
                    "inventory_minimal",
                    ("O24-5", "O24-9.3", "CSL-41.2"),
                    "Every field has a purpose, a retention and only the categories its purposes need.",
                    "每个字段均有用途和保存期限，且只包含其用途所需的类别。",
                )
            )
        return Decision.hold(*self.findings)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.detail.get("severity") == _SEVERITY_ERROR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.decision.outcome.value,
            "errors": self.errors,
            "findings": [f.to_dict() for f in self.findings],
        }


def _where(s: Any, t: Any, f: Any) -> str:
    return f"{s.id}.{t.name}.{f.column}"


@carries("O24-5", "O24-9.3", "CSL-41.1", "CSL-41.2", "CRL-29", "NPC-2")
def check_doc(doc: InventoryDoc) -> CheckReport:
    """Minimisation (O24-5 necessity, O24-9.3 / CSL-41.2 nothing beyond it, no coercion)."""
    kinds = taxonomy()
    declared = {p.id: p for p in doc.purposes}
    required = {
        pid: (kinds[pid].required if p.required is None else p.required)
        for pid, p in declared.items()
        if pid in kinds
    }
    report = CheckReport()

    def add(code: str, ids: tuple[str, ...], en: str, zh: str, severity: str, **detail: Any) -> None:
        report.findings.append(Reason(code, ids, en, zh, {"severity": severity, **detail}))

    for pid, is_required in required.items():
        if is_required and kinds[pid].optional_only:
            add(
                "optional_purpose_required",
                ("O24-9.3", "CSL-41.2"),
                f"Purpose {pid} can only be optional, but the inventory makes it a condition of the service.",
                f"用途 {pid} 只能由用户自愿选择，清单却将其设为使用服务的必要条件。",
                _SEVERITY_ERROR,
                purpose=pid,
            )
    for s in doc.systems:
        for t in s.tables:
            columns = {f.column for f in t.fields}
            for key, col in t.subject_keys.items():
                if col not in columns:
                    add(
                        "subject_key_not_inventoried",
                        ("O24-5",),
                        f"Table {s.id}.{t.name} identifies users by {col} ({key}), which is not listed as a field.",
                        f"表 {s.id}.{t.name} 以 {col}（{key}）识别用户，但该字段未列入清单。",
                        _SEVERITY_WARNING,
                        system=s.id,
                        table=t.name,
                        column=col,
                    )
            for f in t.fields:
                where = _where(s, t, f)
                loc = {"system": s.id, "table": t.name, "column": f.column}
                if not f.purposes:
                    add(
                        "field_without_purpose",
                        ("O24-5", "CSL-41.1"),
                        f"Field {where} has no purpose: information must not be collected without one.",
                        f"字段 {where} 没有用途：不得收集没有明确用途的个人信息。",
                        _SEVERITY_ERROR,
                        **loc,
                    )
                elif not f.necessity and f.categories:
                    add(
                        "field_without_necessity",
                        ("O24-5",),
                        f"Field {where} states no reason why it is necessary.",
                        f"字段 {where} 未说明收集的必要性。",
                        _SEVERITY_WARNING,
                        **loc,
                    )
                if not f.retention:
                    add(
                        "missing_retention",
                        ("O24-5", "O24-9.3"),
                        f"Field {where} has no retention period (ISO 8601 duration or until_cancellation).",
                        f"字段 {where} 未设定保存期限（ISO 8601 期间或 until_cancellation）。",
                        _SEVERITY_ERROR,
                        **loc,
                    )
                for pid in f.purposes:
                    kind = kinds.get(pid)
                    if kind is None:
                        continue
                    for c in f.categories:
                        if c not in kind.allowed:
                            add(
                                "category_not_needed",
                                ("O24-9.3", "CSL-41.2"),
                                f"Purpose {pid} does not need category {c}, held in {where}.",
                                f"用途 {pid} 并不需要 {where} 中的类别 {c}。",
                                _SEVERITY_ERROR,
                                purpose=pid,
                                category=c,
                                allowed=sorted(kind.allowed),
                                **loc,
                            )
                if f.purposes and f.collection == "required" and not any(required.get(p) for p in f.purposes):
                    add(
                        "optional_purpose_forced",
                        ("O24-9.3", "CSL-41.2"),
                        f"Field {where} serves only optional purposes ({', '.join(f.purposes)}) "
                        "but the service requires it: refusing an optional purpose must not cost the service.",
                        f"字段 {where} 仅用于可选用途（{', '.join(f.purposes)}），服务却强制收集：拒绝可选用途不得影响基本服务。",
                        _SEVERITY_ERROR,
                        purposes=list(f.purposes),
                        **loc,
                    )
    return report


def check(session: Session) -> CheckReport:
    return check_doc(current_doc(session))


# ------------------------------------------------------------------ discovery proposals

_SUBJECT_KEYS = {"phone_mobile": "phone", "id_card": "id_card", "email": "email", "account": "account"}


@carries("O24-4", "O24-5")
def propose(
    url: str, system_id: str = "proposed", sample: int = 1000, tables: Iterable[str] | None = None
) -> dict[str, Any]:
    """Scan a database (discovery's scanner) and propose its tables, fields and categories as an
    inventory ``systems`` entry: purposes and retention are left empty for the operator to fill in."""
    return propose_with_evidence(url, system_id, sample, tables)[0]


@carries("O24-4", "O24-5", "O24-10")
def propose_with_evidence(
    url: str, system_id: str = "proposed", sample: int = 1000, tables: Iterable[str] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The proposal and, per proposed field, what discovery saw: status (``clear``, ``masked``,
    ``partly_masked``), the column's category, the share of sampled cells, their number and the
    confidence. A masked column (``138****5678``) is still proposed with its category (masked data
    is still personal information to be inventoried, O24-10) but never as a subject key: no rights
    request can be matched against a masked value."""
    from piguard.discovery.scanners import _safe_url, scan_database

    report = scan_database(url, sample=sample, tables=list(tables) if tables else None)
    by_table: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, dict[str, str]] = {}
    evidence: list[dict[str, Any]] = []
    for col in report.columns:
        top = col.top
        if top is None:
            continue
        # Plain str: SQLAlchemy hands back its own str subclass for reflected names.
        table, column = str(col.table), str(col.column)
        shares = sorted(col.categories + col.masked, key=lambda c: -c.share)
        cats = list(dict.fromkeys(str(c.category) for c in shares))
        by_table.setdefault(table, []).append(
            {"column": column, "categories": cats, "purposes": [], "retention": None}
        )
        evidence.append(
            {
                "table": table,
                "column": column,
                "status": col.status,
                "category": str(top.category),
                "share": top.share,
                "cells": top.cells,
                "sampled": col.sampled,
                "confidence": top.confidence,
            }
        )
        if col.status == "clear" and str(top.category) in _SUBJECT_KEYS:
            keys.setdefault(table, {}).setdefault(_SUBJECT_KEYS[str(top.category)], column)
    system = {
        "id": system_id,
        "name": system_id,
        "owner": "",
        "location": "in_china",
        "connector": {"kind": "sql", "url": _safe_url(url)},
        "tables": [
            {"name": name, **({"subject_keys": keys[name]} if name in keys else {}), "fields": fields}
            for name, fields in by_table.items()
        ],
    }
    return {"systems": [system]}, evidence
