"""The nightly cycle: gather -> analyze (optionally with tools) -> decide -> (generate -> review ->
gates -> shadow) -> spool. Each stage's request, response and failure is a spool row as it happens;
anything that goes wrong (budget, timeout, refusal, malformed JSON, a rejected or failing candidate)
ends the night safely with the reason, and nothing is half-deployed: a candidate either passed every
gate and is a shadow, or is recorded as rejected."""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.secrets import scrub
from lab.orchestrator import candidates as cand
from lab.orchestrator import prompts
from lab.orchestrator.budget import Budget
from lab.orchestrator.context import gather
from lab.orchestrator.decision import AnalysisStep, CodeProposal, Decision, ParseError, Review, parse
from lab.orchestrator.llm import Attempt, LLMClient, LLMError, LLMRequest, LLMResponse
from lab.orchestrator.offline import _key
from lab.orchestrator.tools import ToolRegistry
from lab.research import modules
from lab.store import spool
from lab.strategy.loader import resolve_path
from lab.strategy.sandboxed import GENERATED_MARKER


class StageFailure(Exception):
    def __init__(self, stage: str, kind: str, message: str) -> None:
        super().__init__(f"{stage}: {kind}: {message}")
        self.stage, self.kind, self.message = stage, kind, message


@dataclass
class CycleResult:
    cycle_id: int
    status: str  # completed, failed
    decision: str
    reason: str
    duration_s: float
    candidate_ids: list[int] = field(default_factory=list)
    analysis: str = ""


@dataclass
class CycleOptions:
    dry_run: bool = False
    service: str = "nightly"
    exchange: str = ""
    symbols: tuple[str, ...] = ()
    timeframe: str = "5m"
    replay_of: int | None = None
    tools: bool = True


class NightlyCycle:
    def __init__(
        self, config: LabConfig, client: LLMClient, db: Engine, options: CycleOptions | None = None
    ) -> None:
        self.config, self.client, self.db = config, client, db
        self.opt = options or CycleOptions()
        self.budget = Budget(db, config.llm, self.opt.service)
        self.layers = prompts.layers(config)
        self.cycle_id = 0
        self._candles: dict[str, pd.DataFrame] | None = None

    # --- calls ------------------------------------------------------------------------------------------

    def _call(
        self, stage: str, messages: list[dict[str, str]], inputs: dict[str, Any]
    ) -> tuple[LLMResponse, dict[str, Any]]:
        """The response and the spool fields every row of this request carries."""
        request = LLMRequest(
            stage,
            self.config.llm.models[stage],
            self.layers,
            tuple(messages),
            self.config.llm.max_tokens,
            inputs,
        )
        base = {
            "stage": stage,
            "provider": self.client.provider,
            "model": request.model,
            "request_hash": request.hash,
            "request_text": request.last_user_text,
        }
        if self.client.provider == "anthropic" and (why := self.budget.before_call(request)):
            spool.add_thought(self.db, self.cycle_id, **base, error=f"budget exhausted: {why}")
            raise StageFailure(stage, "budget", why)
        try:
            response = self.client.complete(request)
        except LLMError as exc:
            self._attempts(base, exc.failures)
            if exc.response is not None:  # a refusal: the tokens were spent
                self._record(
                    stage,
                    base,
                    exc.response,
                    attempt=len(exc.failures) + 1,
                    error=f"{exc.kind}: {exc.message}",
                )
            elif not exc.failures:
                spool.add_thought(self.db, self.cycle_id, **base, error=f"{exc.kind}: {exc.message}")
            raise StageFailure(stage, exc.kind, exc.message) from None
        self._attempts(base, response.failures)
        return response, base

    def _attempts(self, base: dict[str, Any], failures: list[Attempt]) -> None:
        """Each failed try (timeout, 429, 529, 5xx) is a spool row of its own."""
        for a in failures:
            spool.add_thought(
                self.db,
                self.cycle_id,
                **base,
                attempt=a.attempt,
                latency_s=a.latency_s,
                error=f"{a.kind}: {a.error}",
            )

    def _record(
        self,
        stage: str,
        base: dict[str, Any],
        r: LLMResponse,
        attempt: int,
        parsed: Any = None,
        error: str = "",
    ) -> int:
        cost = r.cost(self.config.llm.prices.get(r.model)) if r.provider == "anthropic" else 0.0
        thought = spool.add_thought(
            self.db,
            self.cycle_id,
            **(base | {"model": r.model or base["model"]}),
            attempt=attempt,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            cache_write_tokens=r.cache_write_tokens,
            cache_read_tokens=r.cache_read_tokens,
            cost=cost,
            latency_s=r.latency_s,
            stop_reason=r.stop_reason,
            raw_text=r.text,
            parsed=parsed,
            error=error,
        )
        if r.provider == "anthropic":
            self.budget.record(self.cycle_id, stage, r, cost)
        return thought

    def _ask(self, stage: str, messages: list[dict[str, str]], inputs: dict[str, Any], schema: type) -> Any:
        response, base = self._call(stage, messages, inputs)
        attempt = len(response.failures) + 1
        try:
            answer = parse(response.text, schema)
        except ParseError as exc:
            self._record(stage, base, response, attempt, error=f"malformed: {exc}")
            raise StageFailure(stage, "malformed", str(exc)) from None
        self._record(stage, base, response, attempt, parsed=answer.model_dump(mode="json"))
        return answer, response

    # --- stages -----------------------------------------------------------------------------------------

    def _analyze(self, items: list[dict[str, Any]]) -> AnalysisStep:
        registry = (
            ToolRegistry(self.config, self.db, items, self.candles)
            if self.opt.tools and self.config.llm.tool_iterations
            else None
        )
        tools = registry.names() if registry else []
        messages = [
            {"role": "user", "content": prompts.stage_message("analyze", prompts.render_inputs(items), tools)}
        ]
        inputs = {"items": items, "tools": tools}
        spent = 0
        for step in range(self.config.llm.tool_iterations + 1):
            answer, response = self._ask("analyze", messages, inputs, AnalysisStep)
            spent += response.input_tokens + response.output_tokens
            if answer.action == "finish":
                return answer
            if (
                registry is None
                or step == self.config.llm.tool_iterations
                or spent > self.config.llm.tool_tokens
            ):
                break
            try:
                result: Any = registry.call(answer.action, answer.arguments)
                error = ""
            except (LabError, ValueError, KeyError) as exc:
                result, error = {"error": str(exc)}, str(exc)
            text = json.dumps(result, default=str)[:8000]
            spool.add_thought(
                self.db,
                self.cycle_id,
                stage="tool",
                provider="lab",
                model=answer.action,
                request_text=json.dumps(answer.arguments),
                raw_text=text,
                parsed={"arguments": answer.arguments},
                error=error,
            )
            messages += [
                {"role": "assistant", "content": response.text},
                {"role": "user", "content": f"Tool result ({answer.action}):\n{text}"},
            ]
        raise StageFailure(
            "analyze",
            "unfinished",
            f"no finished analysis within {self.config.llm.tool_iterations} tool steps or {self.config.llm.tool_tokens:,} tokens",
        )

    def _tried(self) -> list[str]:
        """Every proposal an earlier (not dry-run) night carried out, as the offline policy keys them."""
        out = []
        for row in spool.candidates(self.db).to_dict("records"):
            if row["status"] == "dry_run":
                continue
            change = (
                (row.get("params") or {}).get("weights")
                if row["kind"] == "ADAPTATION"
                else (row.get("params") or {}).get("_change")
            )
            out.append(_key(row["kind"], row["parent"].split()[0], change or {}))
        return out

    def _decide(self, items: list[dict[str, Any]], analysis: AnalysisStep) -> Decision:
        body = prompts.render_inputs(items) + "\n\nAnalysis:\n" + analysis.analysis
        messages = [{"role": "user", "content": prompts.stage_message("decide", body)}]
        answer, _ = self._ask(
            "decide",
            messages,
            {"items": items, "analysis": analysis.model_dump(), "tried": self._tried()},
            Decision,
        )
        return answer

    def candles(self) -> dict[str, pd.DataFrame]:
        if self._candles is None:
            exchange, symbols = (
                self.opt.exchange or self.config.market.exchange,
                list(self.opt.symbols or self.config.market.symbols),
            )
            self._candles = cand.gate_candles(self.config, exchange, symbols, self.opt.timeframe)
        return self._candles

    def _code(
        self, decision: Decision, parent_source: str, parent_version: str, kind: str, parent_label: str
    ) -> tuple[str, str]:
        """generate + apply the edits; returns (edited source, new version)."""
        request = f"Decision:\n{decision.model_dump_json()}\n\nParent ({parent_label}):\n{parent_source}"
        proposal, _ = self._ask(
            "generate",
            [{"role": "user", "content": prompts.stage_message("generate", request)}],
            {
                "decision": decision.model_dump(),
                "parent_source": parent_source,
                "parent_version": parent_version,
                "kind": kind,
            },
            CodeProposal,
        )
        return cand.apply_edits(parent_source, proposal), proposal.version

    def _review(self, decision: Decision, parent: str, candidate: str, patch: str) -> Review:
        body = f"Decision:\n{decision.model_dump_json()}\n\nDiff:\n{patch}\n\nCandidate:\n{candidate}"
        review, _ = self._ask(
            "review",
            [{"role": "user", "content": prompts.stage_message("review", body)}],
            {
                "decision": decision.model_dump(),
                "parent_source": parent,
                "candidate_source": candidate,
                "diff": patch,
            },
            Review,
        )
        return review

    def _candidate(self, decision: Decision) -> tuple[int, str]:
        """Carry out a change decision; returns (candidate row id, the night's reason)."""
        kind, target, cid = decision.decision, str(decision.target), self.cycle_id
        row: dict[str, Any] = {"kind": kind, "name": target, "version": "", "parent": target, "params": {}}
        try:
            if kind == "ANALYSIS_UPDATE":
                return self._analysis_update(decision, row)
            path = resolve_path(target, self.config.strategies_dir)
            from lab.strategy.loader import load_configured

            parent = load_configured(self.config, str(path))
            row["parent"] = f"{parent.name} {parent.version}"
            if kind == "STRATEGY_UPDATE":
                source = path.read_text()
                if source.startswith(GENERATED_MARKER):
                    source = source.split("\n", 1)[1]
                name = _name(parent.name, "c", cid)
                edited, version = self._code(decision, source, parent.version, kind, row["parent"])
                stamped = cand.stamp(edited, name, version, parent.version, cid)
                patch = cand.diff(source, stamped, parent.name, name)
                row |= {
                    "name": name,
                    "version": version,
                    "diff": patch,
                    "params": {"_change": decision.parameters},
                }
                review = self._review(decision, source, stamped, patch)
                if not review.approved:
                    gates = [
                        cand.Gate(
                            "review", False, "; ".join(review.issues) or "rejected without issues named"
                        )
                    ]
                    return self._store(
                        row, gates, "rejected", f"review: {gates[0].detail}"
                    ), f"the reviewer rejected {name}: {gates[0].detail}"
                outcome = cand.code_candidate(
                    self.config, stamped, name, {}, self.candles(), self.opt.dry_run
                )
                outcome.gates.insert(0, cand.Gate("review", True, review.math or "approved"))
            else:
                params = dict(parent.create().params.model_dump(mode="json"))
                if kind == "ADAPTATION":
                    params["weights"] = {**dict(params.get("weights") or []), **decision.weights}
                    name = _name(parent.name, "a", cid)
                    row["params"] = {"weights": decision.weights}
                else:
                    params.update(decision.parameters)
                    name = _name(parent.name, "p", cid)
                    row["params"] = {"_change": decision.parameters}
                row |= {"name": name, "version": parent.version}
                outcome = cand.params_candidate(
                    self.config, str(path), name, params, self.candles(), self.opt.dry_run
                )
                row["params"] |= {"values": params}
        except (cand.CandidateError, LabError) as exc:
            return self._store(
                row, [cand.Gate("edit", False, str(exc))], "rejected", str(exc)
            ), f"candidate refused: {exc}"
        row |= {"path": outcome.path, "code_hash": outcome.code_hash, "shadow_key": outcome.shadow_key}
        cid_row = self._store(row, outcome.gates, outcome.status, outcome.reason)
        return cid_row, f"{row['name']}: {outcome.reason}"

    def _analysis_update(self, decision: Decision, row: dict[str, Any]) -> tuple[int, str]:
        target = str(decision.target)
        path = self.config.statistics_dir / "active" / f"{target}.py"
        if not path.is_file():
            raise cand.CandidateError(f"no active analysis module {target!r}")
        info = modules.read_info(path)
        source = path.read_text()
        edited, version = self._code(
            decision, source, info.version, "ANALYSIS_UPDATE", f"{info.name} {info.version}"
        )
        edited = re.sub(r"^VERSION\s*=.*$", f"VERSION = {version!r}", edited, count=1, flags=re.M)
        edited = re.sub(
            r"^PARENT_VERSION\s*=.*$", f"PARENT_VERSION = {info.version!r}", edited, count=1, flags=re.M
        )
        patch = cand.diff(source, edited, info.name, info.name)
        row |= {"name": info.name, "version": version, "parent": f"{info.name} {info.version}", "diff": patch}
        review = self._review(decision, source, edited, patch)
        if not review.approved:
            detail = "; ".join(review.issues) or "rejected"
            return self._store(
                row, [cand.Gate("review", False, detail)], "rejected", f"review: {detail}"
            ), f"the reviewer rejected the module: {detail}"
        gates = [cand.Gate("review", True, review.math or "approved")]
        with tempfile.TemporaryDirectory(prefix="lab-module-") as d:
            trial = Path(d) / f"{info.name}.py"
            trial.write_text(edited)
            try:
                modules.validate(self.config, trial)
                gates.append(cand.Gate("sandbox", True, "screened and run in the sandbox on a seeded schema"))
                if self.opt.dry_run:
                    return self._store(
                        row, gates, "dry_run", "passed; a dry run deploys nothing"
                    ), "dry run: module not deployed"
                deployed = modules.deploy(self.config, trial)
            except modules.ModuleError as exc:
                gates.append(cand.Gate("sandbox", False, str(exc)))
                return self._store(row, gates, "rejected", str(exc)), f"module refused: {exc}"
        gates.append(
            cand.Gate("deploy", True, f"{deployed.name} {deployed.version} active; {info.version} archived")
        )
        row["code_hash"] = deployed.code_hash
        return self._store(
            row, gates, "deployed", "deployed; the previous version is archived"
        ), f"{info.name} {version} deployed"

    def _store(self, row: dict[str, Any], gates: list[cand.Gate], status: str, reason: str) -> int:
        row = {"version": "", "path": "", "code_hash": "", "diff": "", "shadow_key": None} | row
        return spool.add_candidate(
            self.db, self.cycle_id, **row, gates=[asdict(g) for g in gates], status=status, reason=reason
        )

    # --- the night --------------------------------------------------------------------------------------

    def run(self) -> CycleResult:
        started = time.perf_counter()
        items = gather(self.config, self.db)
        self.cycle_id = spool.start_cycle(
            self.db, self.client.provider, self.opt.dry_run, {"items": items}, self.opt.replay_of
        )
        result = CycleResult(self.cycle_id, "completed", "NO_CHANGE", "", 0.0)
        try:
            why = self.budget.exhausted() if self.client.provider == "anthropic" else None
            if why:
                self.budget.alerts()
                result.reason = f"budget exhausted before the cycle: {why}"
            else:
                analysis = self._analyze(items)
                result.analysis = analysis.analysis
                spool.add_observations(self.db, self.cycle_id, analysis.observations)
                decision = self._decide(items, analysis)
                result.decision, result.reason = decision.decision, decision.rationale
                if decision.decision != "NO_CHANGE":
                    row, result.reason = self._candidate(decision)
                    result.candidate_ids.append(row)
        except StageFailure as exc:
            result.status, result.decision = "failed", "NO_CHANGE"
            result.reason = f"{exc.stage} failed ({exc.kind}): {exc.message}; nothing was changed"
        except (
            Exception
        ) as exc:  # a bug of the lab's own: recorded, never half-deployed (the rows say how far it got)
            result.status, result.decision = "failed", "NO_CHANGE"
            result.reason = f"internal error: {type(exc).__name__}: {exc}"
            spool.add_thought(self.db, self.cycle_id, stage="cycle", provider="lab", error=result.reason)
        spool.prune_observations(self.db, self.config.llm.observations_kept_days)
        # what the model wrote reaches the console, the notebook and its report from here: scrubbed too
        result.reason, result.analysis = scrub(result.reason), scrub(result.analysis)
        result.duration_s = time.perf_counter() - started
        spool.finish_cycle(
            self.db, self.cycle_id, result.status, result.decision, result.reason, result.duration_s
        )
        return result


def _name(parent: str, tag: str, cycle_id: int) -> str:
    base = re.sub(r"_[cpa]\d+$", "", parent)[:40]
    return f"{base}_{tag}{cycle_id}"
