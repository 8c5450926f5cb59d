"""The whole nightly cycle through the real anthropic SDK against a server that answers like the Messages
API (httpx2.MockTransport): each kind of night leaves the right rows in the spool and nothing half-deployed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lab.orchestrator.anthropic_client import AnthropicClient
from lab.orchestrator.nightly import run_nightly
from lab.research.promotions import trials_evaluated
from lab.store import spool
from lab.store.models import Book
from lab.store.models_llm import AIUsage, BudgetAlert, StrategyCandidate
from tests.fakes.messages_api import MessagesAPI, Reply, answer
from tests.orchestrator.helpers import db_of, night_project

FINISH = {
    "thought": "enough",
    "action": "finish",
    "analysis": "paper loses about 0.4% per trade over 40 trades",
    "observations": [
        "paper loses about 0.4% per trade (40 trades)",
        "paper loses about 0.4% per trade (40 trades)",
    ],
}
TOOL = {"thought": "look at the paper book", "action": "query_benchmarks", "arguments": {"book": "paper"}}
NO_CHANGE = {"decision": "NO_CHANGE", "rationale": "40 trades are too few to act on", "confidence": 0.6}
UPDATE = {
    "decision": "STRATEGY_UPDATE",
    "rationale": "entries on thin volume lose",
    "confidence": 0.7,
    "target": "ema_rsi_volume",
    "parameters": {"volume_min": 1.4},
    "change_request": "require more volume",
}
GENERATE = {
    "summary": "volume filter 1.4",
    "version": "1.1.0",
    "edits": [{"find": "volume_min: float = param(1.2,", "replace": "volume_min: float = param(1.4,"}],
}
STALL = {
    "summary": "a time bomb",
    "version": "1.1.0",
    "edits": [
        {
            "find": "entries = ta.crossed_above(fast, slow)",
            "replace": "while True:\n            pass\n        entries = ta.crossed_above(fast, slow)",
        }
    ],
}
APPROVE = {
    "approved": True,
    "issues": [],
    "math": "a stricter filter, same signals otherwise",
    "long_only": "yes",
    "contract": "kept",
}
REJECT = {
    "approved": False,
    "issues": ["raising the volume filter halves the trades without evidence it helps"],
}


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(
        "ANTHROPIC_API_KEY", "-".join(("sk", "ant", "test", "key", "for", "the", "local", "server"))
    )


def night(cfg, api, **kw):
    return run_nightly(cfg, client=AnthropicClient(cfg.llm, client=api.sdk(), sleep=lambda _s: None), **kw)


def candidates(cfg):
    with db_of(cfg).connect() as c:
        return c.execute(select(StrategyCandidate.__table__)).mappings().all()


def shadows(cfg):
    with db_of(cfg).connect() as c:
        return c.execute(select(Book.key).where(Book.mode == "shadow")).scalars().all()


def generated_files(cfg):
    folder = cfg.strategies_dir / "candidates" / "generated"
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def test_a_no_change_night_records_each_response_with_tokens_and_cost(lab_root):
    cfg = night_project(lab_root)
    api = MessagesAPI([answer(FINISH), answer(NO_CHANGE)])
    result = night(cfg, api)
    assert (result.status, result.decision) == ("completed", "NO_CHANGE"), result.reason
    db = db_of(cfg)
    rows = spool.thoughts(db, result.cycle_id)
    assert rows["stage"].tolist() == ["analyze", "decide"]
    assert rows["provider"].unique().tolist() == ["anthropic"]
    # sonnet 4.5 prices: 1200 in x $3 + 300 out x $15 + 2000 cache reads x $0.30 per million
    assert rows["cost"].tolist() == pytest.approx([0.0087, 0.0087])
    assert rows["model"].tolist() == [cfg.llm.models["analyze"], cfg.llm.models["decide"]]
    assert spool.observations(db, result.cycle_id) == ["paper loses about 0.4% per trade (40 trades)"]
    # the stable layers are sent as system blocks with one cache breakpoint, at the end
    system = api.requests[0]["system"]
    assert [("cache_control" in b) for b in system] == [False, False, True]
    assert "0.40% taker" in system[2]["text"] and "long-only" in system[2]["text"].lower()
    with db.connect() as c:
        assert c.execute(select(func.count()).select_from(AIUsage)).scalar() == 2
    cycle = spool.cycle(db, result.cycle_id)
    assert cycle["cost"] == pytest.approx(0.0174) and cycle["input_tokens"] == 2400
    assert candidates(cfg) == [] and shadows(cfg) == []


def test_a_strategy_update_passes_every_gate_and_lands_as_a_shadow(lab_root):
    cfg = night_project(lab_root)
    before = trials_evaluated(db_of(cfg).connect())
    api = MessagesAPI([answer(TOOL), answer(FINISH), answer(UPDATE), answer(GENERATE), answer(APPROVE)])
    result = night(cfg, api)
    assert (result.status, result.decision) == ("completed", "STRATEGY_UPDATE"), result.reason
    assert api.requests[1]["messages"][-1]["content"].startswith("Tool result (query_benchmarks):")
    assert [r["model"] for r in api.requests] == [
        cfg.llm.models[s] for s in ("analyze", "analyze", "decide", "generate", "review")
    ]
    rows = spool.thoughts(db_of(cfg), result.cycle_id)
    assert rows["stage"].tolist() == ["analyze", "tool", "analyze", "decide", "generate", "review"]
    tool = rows[rows["stage"] == "tool"].iloc[0]
    assert tool["model"] == "query_benchmarks" and '"book": "paper"' in tool["raw_text"]
    (row,) = candidates(cfg)
    name = f"ema_rsi_volume_c{result.cycle_id}"
    assert (row["name"], row["status"], row["parent"], row["version"]) == (
        name,
        "shadow",
        "ema_rsi_volume 1.0.0",
        "1.1.0",
    )
    assert [g["gate"] for g in row["gates"]] == [
        "review",
        "screen",
        "sandbox",
        "lookahead",
        "backtest",
        "walk_forward",
        "shadow",
    ]
    assert all(g["passed"] for g in row["gates"])
    assert (
        "-        volume_min: float = param(1.2," in row["diff"]
        and "+        volume_min: float = param(1.4," in row["diff"]
    )
    assert shadows(cfg) == [f"shadow:{name}"]
    source = (cfg.strategies_dir / "candidates" / "generated" / f"{name}.py").read_text()
    assert source.startswith("# lab: generated") and f'name = "{name}"'.replace('"', "'") in source
    assert trials_evaluated(db_of(cfg).connect()) == before + 1  # the shadow counts once


def test_a_candidate_the_reviewer_rejects_is_recorded_and_nothing_is_deployed(lab_root):
    cfg = night_project(lab_root)
    before = trials_evaluated(db_of(cfg).connect())
    api = MessagesAPI([answer(FINISH), answer(UPDATE), answer(GENERATE), answer(REJECT)])
    result = night(cfg, api)
    assert result.status == "completed" and "reviewer rejected" in result.reason
    (row,) = candidates(cfg)
    assert row["status"] == "rejected" and row["gates"][0]["gate"] == "review"
    assert "halves the trades" in row["reason"]
    assert shadows(cfg) == [] and generated_files(cfg) == []
    assert trials_evaluated(db_of(cfg).connect()) == before + 1  # a rejected candidate was still tried


def test_code_the_sandbox_stops_never_becomes_a_shadow(lab_root):
    cfg = night_project(lab_root, extra_toml="\n[sandbox]\nwall_seconds = 3\n")
    api = MessagesAPI([answer(FINISH), answer(UPDATE), answer(STALL), answer(APPROVE)])
    result = night(cfg, api)
    (row,) = candidates(cfg)
    assert row["status"] == "rejected", row["gates"]
    failed = next(g for g in row["gates"] if not g["passed"])
    assert "stalled" in failed["detail"] and "killed" in failed["detail"]
    assert shadows(cfg) == []
    assert generated_files(cfg) == [f"{row['name']}.rejected"]  # kept for the lineage, not loadable
    assert result.status == "completed"


def test_malformed_json_ends_the_night_safely_with_the_raw_text_kept(lab_root):
    cfg = night_project(lab_root)
    api = MessagesAPI([answer(FINISH), Reply(text="I would recommend making no change tonight.")])
    result = night(cfg, api)
    assert (result.status, result.decision) == ("failed", "NO_CHANGE")
    assert "decide failed (malformed)" in result.reason and "not JSON" in result.reason
    rows = spool.thoughts(db_of(cfg), result.cycle_id)
    bad = rows.iloc[-1]
    assert (
        bad["stage"] == "decide"
        and bad["raw_text"].startswith("I would recommend")
        and bad["error"].startswith("malformed")
    )
    assert candidates(cfg) == [] and shadows(cfg) == []


def test_an_invalid_decision_names_the_field(lab_root):
    cfg = night_project(lab_root)
    api = MessagesAPI(
        [answer(FINISH), answer({"decision": "STRATEGY_UPDATE", "rationale": "x", "confidence": 0.5})]
    )
    result = night(cfg, api)
    assert result.status == "failed" and "needs a 'target'" in result.reason


def test_a_refusal_is_recorded_with_its_tokens(lab_root):
    cfg = night_project(lab_root)
    api = MessagesAPI([Reply(text="", stop_reason="refusal")])
    result = night(cfg, api)
    assert result.status == "failed" and "refusal" in result.reason
    (row,) = spool.thoughts(db_of(cfg), result.cycle_id).to_dict("records")
    assert row["error"].startswith("refusal") and row["input_tokens"] == 1200 and row["cost"] > 0


def test_a_timeout_is_retried_and_both_attempts_are_in_the_spool(lab_root):
    cfg = night_project(lab_root)
    api = MessagesAPI([Reply(timeout=True), answer(FINISH), answer(NO_CHANGE)])
    result = night(cfg, api)
    assert result.status == "completed"
    rows = spool.thoughts(db_of(cfg), result.cycle_id)
    assert rows[["stage", "attempt"]].values.tolist() == [["analyze", 1], ["analyze", 2], ["decide", 1]]
    assert rows["error"].iloc[0].startswith("timeout") and rows["error"].iloc[1] == ""


def test_overload_529_exhausts_the_retries_and_changes_nothing(lab_root):
    cfg = night_project(lab_root)
    api = MessagesAPI([Reply(status=529), Reply(status=529), Reply(status=529)])
    result = night(cfg, api)
    assert (result.status, result.decision) == ("failed", "NO_CHANGE")
    assert "overloaded" in result.reason and len(api.requests) == 3  # max_retries = 2
    rows = spool.thoughts(db_of(cfg), result.cycle_id)
    assert rows["attempt"].tolist() == [1, 2, 3] and rows["error"].str.startswith("overloaded").all()


def test_an_exhausted_budget_ends_the_night_before_any_call(lab_root):
    cfg = night_project(lab_root)
    spool.record_usage(
        db_of(cfg),
        "nightly",
        None,
        provider="anthropic",
        model="claude-sonnet-4-5",
        stage="decide",
        input_tokens=1,
        output_tokens=1,
        cache_write_tokens=0,
        cache_read_tokens=0,
        cost=5.2,
    )
    api = MessagesAPI([answer(FINISH), answer(NO_CHANGE)])
    result = night(cfg, api)
    assert result.decision == "NO_CHANGE" and "budget exhausted before the cycle" in result.reason
    assert "$5.2000 used of $5.00" in result.reason
    assert api.requests == [] and spool.thoughts(db_of(cfg), result.cycle_id).empty
    with db_of(cfg).connect() as c:
        levels = c.execute(select(BudgetAlert.level).where(BudgetAlert.period == "day")).scalars().all()
    assert sorted(levels) == [0.8, 1.0]


def test_the_budget_is_checked_before_each_call(lab_root):
    cfg = night_project(lab_root, extra_toml="\n[llm.budgets.shell]\ndaily_dollars = 1.0\n")
    cfg = cfg.model_copy(
        update={
            "llm": cfg.llm.model_copy(
                update={
                    "budgets": {
                        "nightly": cfg.llm.budgets["nightly"].model_copy(
                            update={"daily_dollars": 0.0, "daily_tokens": 60_000}
                        )
                    }
                }
            )
        }
    )
    big = Reply(
        text=answer(FINISH).text,
        usage={
            "input_tokens": 57_000,
            "output_tokens": 300,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    )
    api = MessagesAPI([big, answer(NO_CHANGE)])
    result = night(cfg, api)
    assert result.status == "failed" and "decide failed (budget)" in result.reason
    assert len(api.requests) == 1
    rows = spool.thoughts(db_of(cfg), result.cycle_id)
    assert rows["stage"].tolist() == ["analyze", "decide"] and rows["error"].iloc[1].startswith(
        "budget exhausted"
    )
    with db_of(cfg).connect() as c:
        alerts = c.execute(select(BudgetAlert.measure, BudgetAlert.level)).all()
    assert ("tokens", 0.8) in alerts


def test_no_api_key_reaches_the_spool_logs_or_reports(lab_root, monkeypatch):
    key = "-".join(("sk", "ant", "test", "5f0c9e1d2b3a4c5d6e7f"))  # a fake, built here
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    cfg = night_project(lab_root)
    echo = dict(FINISH, analysis=f"the key is {key}", observations=[f"key {key}"])
    api = MessagesAPI([answer(echo), answer(UPDATE), answer(GENERATE), answer(APPROVE)])
    result = night(cfg, api)
    assert any(key in v for v in api.headers[0].values())  # the SDK did send it: the scan below can fail
    assert result.status == "completed"
    found = []
    for path in lab_root.rglob("*"):
        if path.is_file() and key.encode() in path.read_bytes():
            found.append(str(path.relative_to(lab_root)))
    assert found == []
    assert "[redacted]" in spool.thoughts(db_of(cfg), result.cycle_id)["raw_text"].iloc[0]


def test_anthropic_base_url_points_the_real_client_at_a_local_server(lab_root, monkeypatch):
    from lab.orchestrator.nightly import make_client
    from tests.fakes.messages_api import MessagesServer

    api = MessagesAPI([answer(FINISH), answer(NO_CHANGE)])
    server = MessagesServer(api)
    try:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        cfg = night_project(lab_root)
        client = make_client(cfg, db_of(cfg))  # provider auto + a key in the environment: the SDK
        assert client.provider == "anthropic"
        result = run_nightly(cfg, client=client)
    finally:
        server.close()
    assert (result.status, result.decision) == ("completed", "NO_CHANGE"), result.reason
    assert len(api.requests) == 2 and api.requests[0]["model"] == cfg.llm.models["analyze"]


def test_without_a_key_the_offline_policy_answers(lab_root, monkeypatch):
    from lab.orchestrator.nightly import make_client

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    cfg = night_project(lab_root)
    assert make_client(cfg, db_of(cfg)).provider == "offline"
    result = run_nightly(cfg, tools=False)
    assert spool.cycle(db_of(cfg), result.cycle_id)["provider"] == "offline"


def test_a_parameter_change_lands_as_a_shadow_of_the_same_strategy(lab_root):
    cfg = night_project(lab_root)
    change = {
        "decision": "PARAMETER_CHANGE",
        "rationale": "slower EMAs",
        "confidence": 0.6,
        "target": "ema_rsi_volume",
        "parameters": {"fast": 12, "slow": 30},
    }
    result = night(cfg, MessagesAPI([answer(FINISH), answer(change)]))
    (row,) = candidates(cfg)
    assert (row["status"], row["name"]) == ("shadow", f"ema_rsi_volume_p{result.cycle_id}"), row["reason"]
    assert row["params"]["values"]["fast"] == 12 and [g["gate"] for g in row["gates"]] == [
        "parameters",
        "backtest",
        "walk_forward",
        "shadow",
    ]
    with db_of(cfg).connect() as c:
        book = c.execute(select(Book.strategy, Book.params).where(Book.key == f"shadow:{row['name']}")).one()
    assert book[0] == "ema_rsi_volume" and book[1]["slow"] == 30
    bad = {**change, "parameters": {"fast": 40, "slow": 30}}  # outside its range: refused, nothing registered
    night(cfg, MessagesAPI([answer(FINISH), answer(bad)]))
    assert [r["status"] for r in candidates(cfg)] == ["shadow", "rejected"] and len(shadows(cfg)) == 1


def test_an_analysis_update_is_sandboxed_then_deployed_with_the_old_version_archived(lab_root):
    import shutil

    from tests.trading.helpers import ROOT

    cfg = night_project(lab_root)
    shutil.copytree(ROOT / "statistics", lab_root / "statistics")
    update = {
        "decision": "ANALYSIS_UPDATE",
        "rationale": "median return per group",
        "confidence": 0.6,
        "target": "trade_performance",
        "change_request": "add the median return to each group",
    }
    edit = {
        "summary": "median",
        "version": "1.3.0",
        "edits": [
            {
                "find": '"mean_return": float(g["ret"].mean()),',
                "replace": '"mean_return": float(g["ret"].mean()),\n            "median_return": float(g["ret"].median()),',
            }
        ],
    }
    result = night(cfg, MessagesAPI([answer(FINISH), answer(update), answer(edit), answer(APPROVE)]))
    assert result.status == "completed", result.reason
    (row,) = candidates(cfg)
    assert row["status"] == "deployed" and [g["gate"] for g in row["gates"]] == [
        "review",
        "sandbox",
        "deploy",
    ]
    active = (lab_root / "statistics" / "active" / "trade_performance.py").read_text()
    assert 'VERSION = "1.3.0"' in active.replace("'", '"') and "median_return" in active
    assert 'PARENT_VERSION = "1.2.0"' in active.replace("'", '"')
    assert any(
        p.name.startswith("trade_performance-v1.2.0") for p in (lab_root / "statistics" / "archive").iterdir()
    )
    broken = {
        **edit,
        "version": "1.4.0",
        "edits": [
            {
                "find": '"median_return": float(g["ret"].median()),',
                "replace": '"median_return": open("/etc/passwd").read(),',
            }
        ],
    }
    night(cfg, MessagesAPI([answer(FINISH), answer(update), answer(broken), answer(APPROVE)]))
    first, second = sorted(candidates(cfg), key=lambda r: r["id"])
    assert (first["status"], second["status"]) == ("deployed", "rejected")
    assert second["gates"][-1]["gate"] == "sandbox" and "'open'" in second["gates"][-1]["detail"]
    assert "median_return" in (lab_root / "statistics" / "active" / "trade_performance.py").read_text()
    assert "passwd" not in (lab_root / "statistics" / "active" / "trade_performance.py").read_text()
