"""Pydantic models of the law as data: the YAML files are validated into these on load, and the API
returns them (so the OpenAPI schema is exactly what the data holds)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SourceId = Literal["O24", "O31", "CSL", "CRL", "NPC", "GC"]
Section = Literal["A", "B", "C", "D", "E", "F", "G"]
Unit = Literal["calendar_days", "working_days", "months", "yuan", "messages", "people", "rows", "categories"]
Bound = Literal["at_most", "at_least", "exact"]
Status = Literal["built", "partial", "not yet"]

SOURCE_IDS: tuple[str, ...] = ("O24", "O31", "CSL", "CRL", "NPC", "GC")
SECTIONS: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G")
STATUSES: tuple[str, ...] = ("built", "partial", "not yet")

UNIT_LABELS: dict[str, tuple[str, str]] = {  # unit -> (en, zh)
    "calendar_days": ("calendar days", "自然日"),
    "working_days": ("working days", "工作日"),
    "months": ("months", "个月"),
    "yuan": ("yuan", "元"),
    "messages": ("messages", "条"),
    "people": ("people", "人"),
    "rows": ("rows", "行"),
    "categories": ("categories", "类"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bilingual(_Frozen):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


# --- sources and obligations ---------------------------------------------------------------------


class Source(_Frozen):
    id: SourceId
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    short_zh: str = Field(min_length=1)
    short_en: str = Field(min_length=1)
    file: str = Field(min_length=1, description="The text in ../shared/regulations/ that the excerpts quote.")
    also: tuple[str, ...] = ()
    language: Literal["en", "zh"]
    effective: date | None = None
    note: Bilingual | None = None


class RequirementRow(_Frozen):
    """One row of REQUIREMENTS.md that names the obligation (an id may appear in several sections)."""

    section: Section
    obligation: str = Field(min_length=1)
    capability: str = Field(min_length=1)


class PenaltyLink(_Frozen):
    """The penalty article that punishes a violation of the obligation."""

    id: str
    paragraphs: tuple[int, ...] = Field(
        default=(), description="Only these paragraphs of the obligation's article are covered; empty = all."
    )


class Obligation(_Frozen):
    id: str
    source: SourceId
    article: int = Field(ge=1)
    paragraph: int | None = Field(default=None, ge=1, description="Paragraph, or item for Order 24 Art. 13.")
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    text_en: str | None = None
    text_zh: str | None = None
    requirements: tuple[RequirementRow, ...] = Field(min_length=1)
    piguard_does: Bilingual
    penalty: PenaltyLink | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Obligation:
        expected = f"{self.source}-{self.article}" + (f".{self.paragraph}" if self.paragraph else "")
        if self.id != expected:
            raise ValueError(f"id {self.id!r} does not match source/article/paragraph ({expected!r})")
        if not (self.text_en or self.text_zh):
            raise ValueError(f"{self.id}: an obligation needs text_en or text_zh (the article excerpt)")
        return self

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.section for r in self.requirements))

    @property
    def text(self) -> str:
        return self.text_zh or self.text_en or ""


class Penalty(_Frozen):
    id: str
    source: SourceId
    article: int
    covers: tuple[str, ...] = Field(min_length=1, description='Articles punished, "17.2" = Art. 17 para. 2.')
    fine_min: str | None = Field(default=None, description="Name of the parameter holding the lowest fine.")
    fine_max: str | None = Field(default=None, description="Name of the parameter holding the highest fine.")
    measures: Bilingual
    text_en: str | None = None
    text_zh: str | None = None


# --- parameters ----------------------------------------------------------------------------------


class ParameterReference(_Frozen):
    id: str = Field(description="Obligation id (REQUIREMENTS.md) the parameter comes from.")
    article_en: str
    article_zh: str


class ParameterValue(_Frozen):
    effective: date
    value: int


class Parameter(_Frozen):
    name: str
    description: Bilingual
    unit: Unit
    bound: Bound = Field(description="at_most: a deadline or ceiling; at_least: a minimum; exact.")
    reference: ParameterReference
    values: tuple[ParameterValue, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _dates_increase(self) -> Parameter:
        dates = [v.effective for v in self.values]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError(f"{self.name}: values must be listed by strictly increasing effective date")
        return self

    @property
    def unit_en(self) -> str:
        return UNIT_LABELS[self.unit][0]

    @property
    def unit_zh(self) -> str:
        return UNIT_LABELS[self.unit][1]


# --- API output ----------------------------------------------------------------------------------


class ParameterOut(BaseModel):
    """A parameter with the value in force on ``on`` (``value`` is null before it took effect)."""

    name: str
    description: Bilingual
    unit: Unit
    unit_label: Bilingual
    bound: Bound
    reference: ParameterReference
    values: list[ParameterValue]
    on: date
    in_force: bool
    value: int | None
    effective: date | None = Field(description="Effective date of the value in force on `on`.")


class PenaltyOut(BaseModel):
    id: str
    source: SourceId
    article: int
    covers: list[str]
    measures: Bilingual
    text_en: str | None
    text_zh: str | None
    applies_to_paragraphs: list[int] = Field(description="Empty: the whole obligation is covered.")
    fine_min_yuan: int | None
    fine_max_yuan: int | None
    fine_parameters: list[str]


class ObligationSummary(BaseModel):
    id: str
    source: SourceId
    article: int
    paragraph: int | None
    sections: list[Section]
    title_zh: str
    title_en: str
    penalty: str | None


class ObligationDetail(BaseModel):
    id: str
    source: Source
    article: int
    paragraph: int | None
    sections: list[Section]
    title_zh: str
    title_en: str
    text_en: str | None
    text_zh: str | None
    requirements: list[RequirementRow]
    piguard_does: Bilingual
    parameters: list[ParameterOut]
    penalty: PenaltyOut | None


class CodeLocation(BaseModel):
    module: str
    qualname: str
    line: int
    location: str = Field(description="module:qualname:line")


class TestLocation(BaseModel):
    __test__ = False  # not a pytest class

    path: str
    name: str
    line: int
    nodeid: str = Field(description="path::name")


class CapabilityPartOut(BaseModel):
    key: str
    zh: str
    en: str
    under: list[str] = Field(description="package prefixes where the code must live (any of them)")
    name: str | None = Field(None, description="regular expression the marked qualname must match")
    met: bool
    code: list[str] = Field(description="module:qualname:line of the markers that meet it")


class MatrixRow(BaseModel):
    id: str
    title_zh: str
    title_en: str
    sections: list[Section]
    status: Status
    capability: Bilingual | None = Field(None, description="the capability REQUIREMENTS.md names")
    parts: list[CapabilityPartOut] = Field(default_factory=list)
    missing: list[CapabilityPartOut] = Field(
        default_factory=list, description="the parts not met yet (why the row is not built)"
    )
    code: list[CodeLocation]
    tests: list[TestLocation] | None = Field(description="null when the tests directory was not found.")


class MarkerError(BaseModel):
    path: str
    line: int
    id: str | None
    message: str
    suggestion: str | None = None


class StatusCounts(BaseModel):
    built: int
    partial: int
    not_yet: int
    total: int


class MatrixOut(BaseModel):
    tests_scanned: bool
    notes: list[str]
    counts: StatusCounts
    rows: list[MatrixRow]
    errors: list[MarkerError]


class ErrorMessage(BaseModel):
    zh: str
    en: str


class ErrorFieldOut(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: ErrorMessage
    obligations: list[str]
    fields: list[ErrorFieldOut]


class ErrorOut(BaseModel):
    """The one error shape (piguard.core.errors.PiguardError.to_dict)."""

    error: ErrorBody
