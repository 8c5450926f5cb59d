"""The night as the command line, the scheduler and the notebook start it: choose the client (the real
SDK with a key, the offline policy without, or a replay of a past cycle), pick the candles the gates
test on, run the cycle."""

from __future__ import annotations

import os

from sqlalchemy import Engine

from lab.core.config import LabConfig
from lab.core.errors import DataNotFoundError, LabError
from lab.market import repository
from lab.market.sample import SYNTHETIC_EXCHANGE
from lab.orchestrator.cycle import CycleOptions, CycleResult, NightlyCycle
from lab.orchestrator.llm import LLMClient, LLMError
from lab.orchestrator.offline import OfflinePolicy
from lab.orchestrator.replay import ReplayClient
from lab.store.db import ensure_schema, get_engine


def database(config: LabConfig) -> Engine:
    ensure_schema(config.db_url)
    return get_engine(config.db_url)


def make_client(config: LabConfig, db: Engine, replay: int | None = None) -> LLMClient:
    if replay is not None:
        try:
            return ReplayClient(db, replay)
        except LLMError as exc:
            raise LabError(str(exc)) from None
    provider = config.llm.provider
    if provider == "anthropic" or (provider == "auto" and os.environ.get("ANTHROPIC_API_KEY")):
        if not os.environ.get("ANTHROPIC_API_KEY") and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
            raise LabError("llm.provider is anthropic but ANTHROPIC_API_KEY is not set in the environment")
        from lab.orchestrator.anthropic_client import AnthropicClient

        return AnthropicClient(config.llm)
    return OfflinePolicy()


def gate_market(config: LabConfig) -> tuple[str, tuple[str, ...], str]:
    """The configured market when its candles are stored, else the synthetic sample (make run)."""
    tf = config.market.timeframes[0]
    for exchange, symbols, timeframe in (
        (config.market.exchange, config.market.symbols, tf),
        (SYNTHETIC_EXCHANGE, config.sample.symbols, config.sample.timeframe),
    ):
        try:
            if all(not repository.load(exchange, s, timeframe, config=config).empty for s in symbols):
                return exchange, tuple(symbols), timeframe
        except DataNotFoundError:
            continue
    raise LabError(
        "no candles for the gates: fetch data (lab data fetch) or create the sample (lab data sample)"
    )


def run_nightly(
    config: LabConfig,
    dry_run: bool = False,
    replay: int | None = None,
    client: LLMClient | None = None,
    tools: bool = True,
) -> CycleResult:
    db = database(config)
    client = client or make_client(config, db, replay)
    exchange, symbols, timeframe = gate_market(config)
    options = CycleOptions(
        dry_run=dry_run,
        exchange=exchange,
        symbols=symbols,
        timeframe=timeframe,
        replay_of=replay,
        tools=tools,
    )
    return NightlyCycle(config, client, db, options).run()
