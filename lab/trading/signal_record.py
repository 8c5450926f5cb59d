"""The strategy's signal record: the trades its signals alone would have made, one unit per symbol,
with no cash, slot or risk limit, for the Kelly sizer to learn from.

Why not the book's own trades: a Kelly sizer that skips a trade would then never see its outcome, and a
strategy whose estimate once fell below the minimum would stay skipped forever. The signal record
keeps learning from every signal; its returns per unit allocated do not depend on the size. The
backtester computes the same record with vectorbt (lab.backtest.kelly_sizing); a test checks both.

Each bar it executes what the previous bar's signals asked for with the backtest's fill rules, reusing
decide() with one slot per symbol, and adds the return of each closed trade, in symbol order.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from lab.core.kelly import TradeSums, trade_return
from lab.trading.decide import decide
from lab.trading.types import Bar, OpenPosition, Pending

UNLIMITED = 1_000_000


class VirtualPosition(BaseModel):
    entry_price: float
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: bool = False
    peak: float


class RecordState(BaseModel):
    """What the record needs to resume after a restart (saved with the engine's runtime state)."""

    positions: dict[str, VirtualPosition] = Field(default_factory=dict)
    sums: TradeSums = Field(default_factory=TradeSums)


class SignalRecord:
    def __init__(self, symbols: list[str], fees: dict[str, float], slippage: float) -> None:
        self.symbols, self.fees, self.slippage = list(symbols), fees, slippage
        self.state = RecordState()

    def sums(self) -> TradeSums:
        return self.state.sums

    def update(self, bars: dict[str, Bar | None], pending: dict[str, Pending]) -> list[tuple[str, float]]:
        """Execute this bar for the virtual positions; returns the (symbol, return) of trades closed."""
        positions = {
            s: OpenPosition(s, 1.0, v.entry_price, 0.0, None, v.stop_loss, v.take_profit, v.trailing, v.peak)  # type: ignore[arg-type]
            for s, v in self.state.positions.items()
        }
        decisions = decide(
            self.symbols, bars, positions, pending, UNLIMITED, lambda s: (1.0, ""), lambda s, f: (f, "", "")
        )
        closed: list[tuple[str, float]] = []
        sums = TradeSums(**vars(self.state.sums))  # a copy: the saved state changes only below
        for intent in decisions.intents:
            if intent.side == "buy":
                px = intent.reference_price * (1 + self.slippage)
                positions[intent.symbol] = OpenPosition(
                    intent.symbol,
                    1.0,
                    px,
                    0.0,
                    None,
                    intent.stop_loss,
                    intent.take_profit,
                    intent.trailing,
                    px,  # type: ignore[arg-type]
                )
            else:
                pos = positions.pop(intent.symbol)
                r = trade_return(
                    pos.entry_price, intent.reference_price * (1 - self.slippage), self.fees[intent.symbol]
                )
                sums.add(r)
                closed.append((intent.symbol, r))
        self.state = RecordState(
            positions={
                s: VirtualPosition(
                    entry_price=p.entry_price,
                    stop_loss=p.stop_loss,
                    take_profit=p.take_profit,
                    trailing=p.trailing,
                    peak=p.peak,
                )
                for s, p in positions.items()
            },
            sums=sums,
        )
        return closed
