"""The structured answers of each stage, validated with pydantic; a malformed one is an error that says
what is wrong (the cycle records it and ends safely)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DECISIONS = ("NO_CHANGE", "PARAMETER_CHANGE", "STRATEGY_UPDATE", "ADAPTATION", "ANALYSIS_UPDATE")


class ParseError(Exception):
    pass


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AnalysisStep(_Answer):
    thought: str = ""
    action: str = Field(min_length=1)  # a tool name, or "finish"
    arguments: dict[str, Any] = Field(default_factory=dict)
    analysis: str = ""
    observations: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _finish(self) -> AnalysisStep:
        if self.action == "finish" and not self.analysis.strip():
            raise ValueError("a finished analysis needs its text in 'analysis'")
        return self


class Decision(_Answer):
    decision: Literal["NO_CHANGE", "PARAMETER_CHANGE", "STRATEGY_UPDATE", "ADAPTATION", "ANALYSIS_UPDATE"]
    rationale: str = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)
    target: str | None = None
    parameters: dict[str, float | int | bool] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    change_request: str = ""

    @model_validator(mode="after")
    def _complete(self) -> Decision:
        need_target = self.decision != "NO_CHANGE"
        if need_target and not self.target:
            raise ValueError(f"{self.decision} needs a 'target' (the strategy or module to change)")
        if self.decision == "PARAMETER_CHANGE" and not self.parameters:
            raise ValueError("PARAMETER_CHANGE needs 'parameters'")
        if self.decision == "ADAPTATION" and not self.weights:
            raise ValueError("ADAPTATION needs 'weights' (agent -> weight)")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("agent weights cannot be negative")
        if self.decision in ("STRATEGY_UPDATE", "ANALYSIS_UPDATE") and not self.change_request.strip():
            raise ValueError(f"{self.decision} needs a 'change_request' saying what to change")
        return self


class Edit(_Answer):
    find: str = Field(min_length=1)
    replace: str


class CodeProposal(_Answer):
    summary: str = Field(min_length=1)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    edits: list[Edit] = Field(min_length=1, max_length=40)


class Review(_Answer):
    approved: bool
    issues: list[str] = Field(default_factory=list)
    math: str = ""
    long_only: str = ""
    contract: str = ""


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse(text: str, model: type[_Answer]) -> _Answer:
    """One JSON object (a fenced block is tolerated) validated as `model`; errors name the field."""
    body = text.strip()
    if fenced := _FENCE.match(body):
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"the response is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise ParseError(f"the response is JSON but not an object (got {type(data).__name__})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the object"
        raise ParseError(f"the {model.__name__.lower()} is invalid: {where}: {first['msg']}") from None
