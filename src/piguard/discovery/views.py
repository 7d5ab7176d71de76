"""Discovery API: detect, de-identify, k-anonymity check. Every endpoint requires a login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from piguard.core.errors import invalid_field
from piguard.discovery import schemas
from piguard.discovery.categories import CATEGORIES, check_categories
from piguard.discovery.deid import deidentify_text, parse_method
from piguard.discovery.engine import detect
from piguard.discovery.kanon import check_k_anonymity
from piguard.identity.deps import require_action
from piguard.identity.principal import Principal
from piguard.regulations.markers import carries

router = APIRouter(prefix="/api/discovery", tags=["discovery"])
NER_MAX_CHARS = 100_000


@router.get("/categories", response_model=list[schemas.CategoryOut], summary="The PI category vocabulary")
def categories(_: Principal = Depends(require_action("discovery.read"))) -> list[dict[str, Any]]:
    return [
        {"code": c.code, "zh": c.zh, "en": c.en, "o24_4": c.o24_4, "sensitive": c.sensitive}
        for c in CATEGORIES
    ]


@router.post("/detect", response_model=schemas.DetectOut, summary="Find PI in a text (offsets, no values)")
@carries("O24-4", "O24-13.3")
def detect_view(
    body: schemas.DetectIn, _: Principal = Depends(require_action("discovery.detect"))
) -> dict[str, Any]:
    cats = check_categories(body.categories) if body.categories is not None else None
    if body.ner and len(body.text) > NER_MAX_CHARS:
        # the NER tier reads ~0.1 MB per CPU second: a request may not hold a worker for minutes
        raise invalid_field(
            "text",
            f"with ner, at most {NER_MAX_CHARS:,} characters (scan larger texts with `piguard scan --ner`)",
            f"使用 ner 时最多 {NER_MAX_CHARS:,} 个字符（更大的文本请用 `piguard scan --ner`）",
        )
    return {
        "findings": [f.to_dict() for f in detect(body.text, cats, body.min_confidence, ner=body.ner or None)]
    }


@router.post("/mask", response_model=schemas.MaskOut, summary="De-identify a text")
@carries("O24-10", "O24-13.3", "CSL-42.1")
def mask_view(
    body: schemas.MaskIn, _: Principal = Depends(require_action("discovery.mask"))
) -> dict[str, Any]:
    cats = check_categories(body.categories) if body.categories is not None else None
    res = deidentify_text(body.text, parse_method(body.method), cats)
    return {"text": res.text, "findings": [f.to_dict() for f in res.findings]}


@router.post("/k-anonymity", summary="k-anonymity check of a table before sharing (CSL-42.1)")
@carries("CSL-42.1")
def k_anonymity_view(
    body: schemas.KAnonymityIn, _: Principal = Depends(require_action("discovery.kanon"))
) -> dict[str, Any]:
    return check_k_anonymity(body.rows, body.quasi_identifiers, body.k).to_dict()
