"""Request bodies of the agents and training API (O24-11, O24-15)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FirmIn(_In):
    code: str = Field(min_length=1, max_length=64, examples=["kefu-waibao"])
    name: str = Field(min_length=1, max_length=200)
    contract_no: str = Field(min_length=1, max_length=64)
    contract_start: AwareDatetime
    contract_end: AwareDatetime
    scope_categories: list[str] = Field(default_factory=list, max_length=100)
    scope_purposes: list[str] = Field(default_factory=list, max_length=100)
    scope_systems: list[str] = Field(default_factory=list, max_length=100)


class FirmPatch(_In):
    contract_end: AwareDatetime | None = None
    status: str | None = Field(None, max_length=16)
    scope_categories: list[str] | None = Field(None, max_length=100)
    scope_purposes: list[str] | None = Field(None, max_length=100)
    scope_systems: list[str] | None = Field(None, max_length=100)


class FindingIn(_In):
    text: str = Field(min_length=1, max_length=1000)
    severity: str = Field("medium", max_length=8)


class AssessmentIn(_In):
    assessor: str = Field(min_length=1, max_length=128)
    result: str = Field(max_length=16, examples=["pass", "conditional", "fail"])
    findings: list[FindingIn] = Field(default_factory=list, max_length=200)
    assessed_at: AwareDatetime | None = None
    next_due: AwareDatetime | None = None


class CourseIn(_In):
    code: str = Field(min_length=1, max_length=64, examples=["pi-basics"])
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    validity_days: int | None = Field(None, ge=1, le=3660)
    required: bool = True


class CompletionIn(_In):
    username: str = Field(min_length=1, max_length=64)
    course: str = Field(min_length=1, max_length=64)
    completed_at: AwareDatetime | None = None
    evidence: str | None = Field(None, max_length=500)
