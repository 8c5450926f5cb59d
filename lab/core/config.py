"""Configuration: lab.toml plus LAB_* environment overrides, validated into frozen pydantic models.

The merge is written here rather than with pydantic-settings because the file path is found at run
time (LAB_CONFIG, or the nearest lab.toml upwards from the working directory, so notebooks running in
notebooks/ find the project's file) and because errors must name the key, the value, where it came
from and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lab.core.errors import ConfigError
from lab.core.kelly import KellyRule
from lab.core.llm_config import LLMConfig
from lab.core.timeframes import timeframe_ms

ENV_PREFIX = "LAB_"
_ENV_NOT_CONFIG = {
    "LAB_CONFIG",
    "LAB_ROOT",
    "LAB_EXCHANGE_API_KEY",
    "LAB_EXCHANGE_API_SECRET",
    "LAB_DASHBOARD_TOKEN",
    "LAB_DEBUG",  # `lab --debug`
    "LAB_NOTEBOOK_SUMMARY",  # set by the notebook runner for the kernel (lab.pipeline.headline)
}


def _check_timeframe(tf: str) -> None:
    try:
        timeframe_ms(tf)
    except ConfigError as exc:  # pydantic collects ValueErrors with the key; a LabError would escape it
        raise ValueError(str(exc)) from None


class Frozen(BaseModel):
    # inf and NaN are refused everywhere: no setting of the lab means "infinitely much"
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class PathsConfig(Frozen):
    data_dir: Path = Path("data")
    reports_dir: Path = Path("reports")
    notebooks_dir: Path = Path("notebooks")
    strategies_dir: Path = Path("strategies")
    statistics_dir: Path = Path("statistics")


class DbConfig(Frozen):
    url: str = ""


class MarketConfig(Frozen):
    exchange: str = "kraken"
    symbols: tuple[str, ...] = ("BTC/USD",)
    timeframes: tuple[str, ...] = ("5m",)
    fetch_start: str = "2024-01-01"
    page_limit: int = Field(720, ge=1, le=10_000)
    max_retries: int = Field(5, ge=0, le=20)
    retry_backoff: float = Field(1.0, ge=0, le=60)  # first retry wait in seconds, doubled each time
    flush_every: int = Field(50_000, ge=1)  # candles buffered before a write, so a long fetch can resume
    retention: dict[str, int] = Field(default_factory=lambda: {"5m": 90, "1h": 730, "1d": 0})

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in value:
            if symbol.count("/") != 1:
                raise ValueError(f"symbol {symbol!r} must look like BASE/QUOTE, e.g. 'BTC/USD'")
        return value

    @field_validator("timeframes")
    @classmethod
    def _timeframes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tf in value:
            _check_timeframe(tf)
        return value

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: dict[str, int]) -> dict[str, int]:
        for tf, days in value.items():
            _check_timeframe(tf)
            if days < 0:
                raise ValueError(f"retention for {tf} must be >= 0 days (0 keeps everything), got {days}")
        return value


class SampleConfig(Frozen):
    seed: int = 7
    symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD", "SOL/USD")
    timeframe: str = "5m"
    days: int = Field(60, ge=1, le=3650)
    end: str = "2026-01-01"


class FeeSchedule(Frozen):
    maker: float = Field(0.0025, ge=0, lt=0.1)
    taker: float = Field(0.0040, ge=0, lt=0.1)


class FeesConfig(Frozen):
    maker: float = Field(0.0025, ge=0, lt=0.1)
    taker: float = Field(0.0040, ge=0, lt=0.1)
    slippage: float = Field(0.0005, ge=0, lt=0.1)
    pairs: dict[str, FeeSchedule] = Field(default_factory=dict)

    def for_pair(self, symbol: str) -> FeeSchedule:
        """The fee schedule for one pair: its override, else the default tier."""
        return self.pairs.get(symbol, FeeSchedule(maker=self.maker, taker=self.taker))


class BacktestConfig(Frozen):
    initial_cash: float = Field(10_000.0, gt=0)
    position_fraction: float = Field(0.25, gt=0, le=1)
    max_open_positions: int = Field(3, ge=1, le=100)
    annualization_days: int = Field(365, ge=1, le=366)


class CapitalConfig(Frozen):
    """What the trading engine (paper and live) trades with. A setting left unset takes the
    [backtest] value, so a replay equals the backtest of the same period by default."""

    initial_cash: float | None = Field(None, gt=0)
    position_fraction: float | None = Field(None, gt=0, le=1)  # of free cash per entry (fixed sizing)
    max_open_positions: int | None = Field(None, ge=1, le=100)


@dataclass(frozen=True)
class Capital:
    initial_cash: float
    position_fraction: float
    max_open_positions: int


class SizingConfig(Frozen):
    """How entries are sized, in the backtester and the engine alike (lab.core.kelly)."""

    method: Literal["fixed", "kelly"] = "fixed"  # fixed: backtest.position_fraction of free cash
    kelly_fraction: float = Field(0.25, gt=0, le=1)  # the fractional-Kelly multiple
    max_fraction: float = Field(0.15, gt=0, le=1)  # cap on the allocated fraction
    min_fraction: float = Field(0.02, ge=0, lt=1)  # below this the trade is skipped, never floored up
    min_trades: int = Field(30, ge=2, le=100_000)  # closed trades before Kelly replaces the fallback
    fallback_fraction: float = Field(0.05, gt=0, le=1)  # fixed fraction until min_trades exist
    shrink: bool = True  # shrink f* for estimation error (Baker & McHale), see lab.core.kelly

    @model_validator(mode="after")
    def _order(self) -> SizingConfig:
        if self.min_fraction > self.max_fraction:
            raise ValueError(
                f"min_fraction {self.min_fraction} must not exceed max_fraction {self.max_fraction}"
            )
        return self

    def rule(self) -> KellyRule:
        return KellyRule(
            kelly_fraction=self.kelly_fraction,
            max_fraction=self.max_fraction,
            min_fraction=self.min_fraction,
            min_trades=self.min_trades,
            fallback_fraction=self.fallback_fraction,
            shrink=self.shrink,
        )


class SandboxConfig(Frozen):
    """Limits for untrusted code (analysis modules, generated strategies): lab.sandbox.runner."""

    cpu_seconds: int = Field(20, ge=1, le=3600)
    wall_seconds: float = Field(60.0, gt=0, le=3600)
    memory_mb: int = Field(3072, ge=512, le=65536)  # address space; numpy and pandas take ~1 GiB of it
    file_mb: int = Field(16, ge=1, le=4096)
    open_files: int = Field(256, ge=32, le=4096)
    max_output_kb: int = Field(256, ge=1, le=16384)


class PipelineConfig(Frozen):
    kernel_name: str = "lab"
    cell_timeout: int = Field(600, ge=1)
    wall_timeout: int = Field(1800, ge=1)
    main_notebooks: tuple[str, ...] = ("backtest", "kelly_validation", "agent_analysis")


class EngineConfig(Frozen):
    window_bars: int = Field(1000, ge=50, le=100_000)  # candles the strategy sees on each bar (live)
    poll_seconds: float = Field(20.0, gt=0)  # how often the live feed asks for closed candles
    stale_after_bars: float = Field(2.0, gt=0)  # data older than this many bars is stale: no action on it
    health_interval_s: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    breaker_failures: int = Field(5, ge=1)  # consecutive failures that open a circuit breaker
    breaker_recovery_s: float = Field(60.0, gt=0)  # open -> half-open after this long


class RiskConfig(Frozen):
    max_position_fraction: float = Field(0.5, gt=0, le=1)  # of equity in one position (entries are clamped)
    daily_loss_limit: float = Field(0.05, ge=0, lt=1)  # of the day's starting equity; 0 disables
    max_drawdown: float = Field(0.25, ge=0, lt=1)  # from peak equity: kill switch; 0 disables
    max_consecutive_losses: int = Field(6, ge=0)  # pause entries after this many losing trades; 0 disables


class LiveConfig(Frozen):
    confirm: bool = False  # live orders also need --live and keys in the environment


class FaultConfig(Frozen):
    """Fault injection for resilience tests: per component, a share of calls fail or are delayed."""

    enabled: bool = False
    seed: int = 0
    error_rate: dict[str, float] = Field(default_factory=dict)  # e.g. {"broker": 0.3, "feed": 0.3}
    latency_ms: dict[str, float] = Field(default_factory=dict)

    @field_validator("error_rate")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for name, rate in value.items():
            if not 0 <= rate <= 1 or rate != rate:
                raise ValueError(f"error_rate for {name} must be a share from 0 to 1, got {rate}")
        return value

    @field_validator("latency_ms")
    @classmethod
    def _latency(cls, value: dict[str, float]) -> dict[str, float]:
        for name, ms in value.items():
            if not 0 <= ms <= 600_000 or ms != ms:
                raise ValueError(f"latency_ms for {name} must be from 0 to 600000 ms, got {ms}")
        return value


AGENT_NAMES_DEFAULT = (
    "technical",
    "regime",
    "candlestick",
    "volume",
    "time_pattern",
    "anomaly",
    "order_book",
    "funding_rate",
    "ml",
    "rl",
)


class AgentsConfig(Frozen):
    """The signal agents (files in strategies/agents/) the voting strategies use, and how their record
    is judged (lab.research.agent_stats)."""

    enabled: tuple[str, ...] = AGENT_NAMES_DEFAULT  # the engine can disable one at run time (commands)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per agent parameter overrides
    store_dir: Path = Path("agents")  # fitted models (ML, RL), under the data dir unless absolute
    horizon_bars: int = Field(12, ge=1, le=10_000)  # forward return a vote is judged on (12 x 5m = 1h)
    min_ic: float = Field(0.03, ge=0, lt=1)  # an agent must show an IC above this to earn its place
    alpha: float = Field(0.05, gt=0, lt=0.5)  # family-wise error rate of the flags
    correction: Literal["holm", "fdr_bh"] = "holm"  # for the number of agents tested
    min_votes: int = Field(30, ge=4, le=1_000_000)  # fewer votes: never flagged (not enough evidence)
    reenable_after: int = Field(3, ge=1, le=365)  # consecutive clear snapshots before a flag lifts
    auto_disable: bool = False  # a flagged agent is disabled in the engine (else the flag only advises)

    @field_validator("enabled")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen = [n for i, n in enumerate(value) if n in value[:i]]
        if seen:
            raise ValueError(f"agents listed twice: {', '.join(sorted(set(seen)))}")
        return value


class PromoterConfig(Frozen):
    """When a shadow may replace the active strategy (lab.research.promoter), and how the staged
    rollout checks it (lab.trading.rollout). Every decision names these thresholds."""

    min_days: int = Field(30, ge=5, le=3650)  # common days of daily returns before any judgement
    psr_min: float = Field(0.95, gt=0.5, lt=1)  # PSR of the shadow's Sharpe against the active one's
    dsr_min: float = Field(0.95, gt=0.5, lt=1)  # deflated Sharpe, N = every candidate ever evaluated
    paired_alpha: float = Field(0.05, gt=0, lt=0.5)  # one-sided paired t-test of daily return differences
    track_alpha: float = Field(0.05, gt=0, lt=0.5)  # confidence of the minimum track record length
    stages: tuple[float, ...] = (0.25, 0.5, 1.0)  # shares of the active strategy's capital
    stage_days: int = Field(7, ge=1, le=365)  # each stage is held this long before the next
    max_stage_drawdown: float = Field(0.10, gt=0, lt=1)  # a stage's drawdown beyond this rolls back
    cusum_k: float = Field(0.25, ge=0, le=5)  # CUSUM slack, in standard deviations of the difference
    cusum_h: float = Field(6.0, gt=0, le=50)  # CUSUM alarm level, in standard deviations

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or list(value) != sorted(set(value)) or value[-1] != 1.0 or value[0] <= 0:
            raise ValueError(f"stages must rise strictly from above 0 to 1.0, got {list(value)}")
        return value


class ShadowConfig(Frozen):
    """A candidate traded in the shadows (a virtual book beside the active strategy)."""

    strategy: str  # a strategy name (strategies/{active,candidates,archive}) or file
    params: dict[str, Any] = Field(default_factory=dict)
    sizing: Literal["fixed", "kelly"] | None = None  # None: [sizing] method
    capital_share: float = Field(1.0, gt=0, le=1)


class ScheduleJob(Frozen):
    """A cron entry: a notebook run, or one of the lab's tasks (the promoter)."""

    notebook: str | None = None
    task: Literal["promote", "agents"] | None = None  # `lab promote` / `lab agents report` on a schedule
    cron: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _one(self) -> ScheduleJob:
        if (self.notebook is None) == (self.task is None):
            raise ValueError("a scheduled job names exactly one of notebook or task")
        return self

    @property
    def what(self) -> str:
        return self.notebook if self.notebook is not None else f"task {self.task}"


class LabConfig(Frozen):
    root: Path = Path(".")
    paths: PathsConfig = PathsConfig()
    db: DbConfig = DbConfig()
    market: MarketConfig = MarketConfig()
    sample: SampleConfig = SampleConfig()
    fees: FeesConfig = FeesConfig()
    backtest: BacktestConfig = BacktestConfig()
    capital: CapitalConfig = CapitalConfig()
    sizing: SizingConfig = SizingConfig()
    sandbox: SandboxConfig = SandboxConfig()
    pipeline: PipelineConfig = PipelineConfig()
    engine: EngineConfig = EngineConfig()
    risk: RiskConfig = RiskConfig()
    live: LiveConfig = LiveConfig()
    faults: FaultConfig = FaultConfig()
    agents: AgentsConfig = AgentsConfig()
    promoter: PromoterConfig = PromoterConfig()
    shadows: dict[str, ShadowConfig] = Field(default_factory=dict)
    schedule: dict[str, ScheduleJob] = Field(default_factory=dict)
    llm: LLMConfig = LLMConfig()

    def path(self, p: Path) -> Path:
        """Resolve a configured path against the project root."""
        return p if p.is_absolute() else (self.root / p)

    @property
    def data_dir(self) -> Path:
        return self.path(self.paths.data_dir)

    @property
    def candles_dir(self) -> Path:
        return self.data_dir / "candles"

    @property
    def reports_dir(self) -> Path:
        return self.path(self.paths.reports_dir)

    @property
    def notebooks_dir(self) -> Path:
        return self.path(self.paths.notebooks_dir)

    @property
    def strategies_dir(self) -> Path:
        return self.path(self.paths.strategies_dir)

    @property
    def trading_capital(self) -> Capital:
        """The engine's capital settings: [capital], falling back to [backtest] for what it leaves unset."""
        c, b = self.capital, self.backtest
        return Capital(
            initial_cash=c.initial_cash if c.initial_cash is not None else b.initial_cash,
            position_fraction=c.position_fraction if c.position_fraction is not None else b.position_fraction,
            max_open_positions=c.max_open_positions
            if c.max_open_positions is not None
            else b.max_open_positions,
        )

    @property
    def agents_dir(self) -> Path:
        return self.strategies_dir / "agents"

    @property
    def agents_store(self) -> Path:
        p = self.agents.store_dir
        return p if p.is_absolute() else self.data_dir / p

    @property
    def statistics_dir(self) -> Path:
        return self.path(self.paths.statistics_dir)

    @property
    def db_url(self) -> str:
        return self.db.url or f"sqlite:///{self.data_dir / 'lab.db'}"


def find_root(start: Path | None = None) -> Path:
    """The project root: LAB_ROOT, else the nearest directory upwards holding lab.toml, else cwd."""
    if os.environ.get("LAB_ROOT"):
        return Path(os.environ["LAB_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "lab.toml").is_file():
            return candidate
    return here


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Merge LAB_SECTION__KEY variables into data; return {dotted key: variable name}."""
    sources: dict[str, str] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_CONFIG:
            continue
        if name == "LAB_DB_URL":
            keys = ["db", "url"]
        elif "__" in name:
            keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        else:
            raise ConfigError(_unknown_variable(name))
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: {'.'.join(keys[:-1])} is not a section")
        node[keys[-1]] = raw if name == "LAB_DB_URL" else _parse_env_value(raw)
        sources[".".join(keys)] = name
    return sources


def _env_names() -> list[str]:
    """Every LAB_SECTION__KEY the configuration knows."""
    names = []
    for section, field in LabConfig.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names += [f"LAB_{section.upper()}__{key.upper()}" for key in model.model_fields]
    return names + sorted(_ENV_NOT_CONFIG | {"LAB_DB_URL"})


def _unknown_variable(name: str) -> str:
    import difflib

    guess = difflib.get_close_matches(name, _env_names(), n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]}?" if guess else "; settings are LAB_<SECTION>__<KEY> (two underscores)"
    return f"unknown environment variable {name}{hint}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = LabConfig
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return sorted(getattr(model, "model_fields", {}))


def _describe(exc: ValidationError, source: str, env_sources: dict[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        where = env_sources.get(key, source)
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(err["loc"])) or "none"
            lines.append(f"{where}: unknown key {key!r} (allowed here: {allowed})")
        else:
            lines.append(f"{where}: {key} = {err.get('input')!r}: {err['msg']}")
    if len(lines) == 1:
        return f"invalid configuration: {lines[0]}"
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> LabConfig:
    """Load and validate the configuration; raise ConfigError naming every bad key."""
    env = os.environ if env is None else env
    if path is None and env.get("LAB_CONFIG"):
        path = Path(env["LAB_CONFIG"])
    root = find_root() if path is None else Path(path).resolve().parent
    path = root / "lab.toml" if path is None else Path(path)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif "LAB_CONFIG" in env:
        raise ConfigError(f"LAB_CONFIG points at {path}, which does not exist")
    if "market" in data and "retention" in data["market"]:
        data["market"]["retention"] = dict(data["market"]["retention"])
    env_sources = _apply_env(data, env)
    data["root"] = root
    try:
        config = LabConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path.name, env_sources)) from None
    for what, folder in (("data_dir", config.data_dir), ("reports_dir", config.reports_dir)):
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"paths.{what} = {folder}: a file stands there; it must be a directory")
    return config
