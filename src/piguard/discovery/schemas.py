"""Pydantic shapes of the discovery API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DetectIn(BaseModel):
    text: str = Field(max_length=1_000_000)
    categories: list[str] | None = None
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    ner: bool = False  # also the NER tier (names, places in free text); 503 when not installed


class FindingOut(BaseModel):
    start: int
    end: int
    category: str
    confidence: float


class DetectOut(BaseModel):
    findings: list[FindingOut]


class MaskIn(BaseModel):
    text: str = Field(max_length=1_000_000)
    method: str = "mask"
    categories: list[str] | None = None


class MaskOut(BaseModel):
    text: str
    findings: list[FindingOut]


class KAnonymityIn(BaseModel):
    rows: list[dict[str, Any]] = Field(max_length=1_000_000)
    quasi_identifiers: list[str] = Field(min_length=1)
    k: int = Field(ge=2)


class CategoryOut(BaseModel):
    code: str
    zh: str
    en: str
    o24_4: str
    sensitive: bool
