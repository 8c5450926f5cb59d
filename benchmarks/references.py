"""Pure-Python references for the backtest benchmark: `ema_rsi_volume` with a 3% stop-loss and 6%
take-profit, fills at the next bar's open, written twice without numpy, pandas or vectorbt.

- `event_driven`: the classic event-driven backtester design (bar, signal, order and fill events on
  one queue; a strategy with incremental indicators, a portfolio, a simulated broker), kept lean:
  slotted dataclasses, a deque, no logging, no per-bar allocation beyond the events themselves.
- `flat_loop`: the same rules hand-flattened into one loop with local variables and no events: the
  fastest plain Python we could write, as a floor for what a loop can do.

Both make the same decisions in the same order, so their results are identical (the benchmark checks
it), and they make the same number of trades as the lab.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WARMUP = 63  # the lab's warm-up for slow EMA 21: 3 x 21 bars


@dataclass(slots=True)
class Bar:
    i: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(slots=True)
class Signal:
    i: int
    side: str  # "entry" | "exit"


@dataclass(slots=True)
class Order:
    i: int
    side: str


@dataclass(slots=True)
class Fill:
    i: int
    side: str
    price: float


class EmaRsiVolume:
    """EMA 9/21 cross, Wilder RSI 14 and a 20-bar volume average, updated one bar at a time."""

    def __init__(self, queue: deque) -> None:
        self.queue = queue
        self.a_fast, self.a_slow = 2 / 10, 2 / 22
        self.ema_fast: float | None = None
        self.ema_slow: float | None = None
        self.prev_close: float | None = None
        self.gain = self.loss = 0.0
        self.volumes: deque[float] = deque()
        self.volume_sum = 0.0
        self.prev_above: bool | None = None

    def on_bar(self, bar: Bar) -> None:
        c = bar.close
        self.ema_fast = c if self.ema_fast is None else self.ema_fast + self.a_fast * (c - self.ema_fast)
        self.ema_slow = c if self.ema_slow is None else self.ema_slow + self.a_slow * (c - self.ema_slow)
        if self.prev_close is not None:
            d = c - self.prev_close
            self.gain = (self.gain * 13 + max(d, 0.0)) / 14
            self.loss = (self.loss * 13 + max(-d, 0.0)) / 14
        self.prev_close = c
        rsi = 100.0 if self.loss == 0 else 100 - 100 / (1 + self.gain / self.loss)
        self.volumes.append(bar.volume)
        self.volume_sum += bar.volume
        if len(self.volumes) > 20:
            self.volume_sum -= self.volumes.popleft()
        above = self.ema_fast > self.ema_slow
        if bar.i >= WARMUP and self.prev_above is not None:
            if above and not self.prev_above and rsi < 70 and bar.volume >= 1.2 * self.volume_sum / 20:
                self.queue.append(Signal(bar.i, "entry"))
            elif (not above and self.prev_above) or rsi > 80:
                self.queue.append(Signal(bar.i, "exit"))
        self.prev_above = above


class Portfolio:
    """Turns signals into orders when they apply (entries when flat, exits when holding), books fills."""

    def __init__(self, queue: deque, cash: float, fraction: float, fee: float, slippage: float) -> None:
        self.queue, self.cash, self.fraction, self.fee, self.slippage = queue, cash, fraction, fee, slippage
        self.size = self.entry_price = 0.0
        self.trades = 0

    def on_signal(self, signal: Signal) -> None:
        if (signal.side == "entry") == (self.size == 0):
            self.queue.append(Order(signal.i, signal.side))

    def on_fill(self, fill: Fill) -> None:
        if fill.side == "entry":
            price = fill.price * (1 + self.slippage)
            spend = self.cash * self.fraction
            self.size, self.cash, self.entry_price = spend / (1 + self.fee) / price, self.cash - spend, price
        else:
            self.cash += self.size * fill.price * (1 - self.slippage) * (1 - self.fee)
            self.size, self.trades = 0.0, self.trades + 1


class Broker:
    """Fills the pending order at the next bar's open; otherwise checks the stop and target on the bar."""

    def __init__(self, queue: deque, portfolio: Portfolio, stop_loss: float, take_profit: float) -> None:
        self.queue, self.portfolio, self.sl, self.tp = queue, portfolio, stop_loss, take_profit
        self.pending: Order | None = None

    def on_order(self, order: Order) -> None:
        self.pending = order

    def on_bar(self, bar: Bar) -> None:
        order, self.pending = self.pending, None
        if order is not None:
            self.queue.append(Fill(bar.i, order.side, bar.open))
            return
        size, entry = self.portfolio.size, self.portfolio.entry_price
        if size > 0:
            stop, target = entry * (1 - self.sl), entry * (1 + self.tp)
            # The lab's rule: the stop-loss is checked first; a bar opening beyond a level exits at the open.
            if bar.open <= stop:
                self.queue.append(Fill(bar.i, "exit", bar.open))
            elif bar.low <= stop:
                self.queue.append(Fill(bar.i, "exit", stop))
            elif bar.open >= target:
                self.queue.append(Fill(bar.i, "exit", bar.open))
            elif bar.high >= target:
                self.queue.append(Fill(bar.i, "exit", target))


def event_driven(
    o: list,
    h: list,
    lo: list,
    c: list,
    v: list,
    fee: float,
    slip: float,
    cash: float,
    frac: float,
    sl: float,
    tp: float,
) -> tuple[float, int]:
    """Final equity and closed trades of the event-driven backtest."""
    queue: deque = deque()
    portfolio = Portfolio(queue, cash, frac, fee, slip)
    broker = Broker(queue, portfolio, sl, tp)
    strategy = EmaRsiVolume(queue)
    handlers = {Signal: portfolio.on_signal, Order: broker.on_order, Fill: portfolio.on_fill}
    for i in range(len(o)):
        bar = Bar(i, o[i], h[i], lo[i], c[i], v[i])
        broker.on_bar(bar)  # the market moves first: pending orders fill at the open, stops fire
        while queue:
            event = queue.popleft()
            handlers[type(event)](event)
        strategy.on_bar(bar)  # then the strategy decides on the close
        while queue:
            event = queue.popleft()
            handlers[type(event)](event)
    return portfolio.cash + portfolio.size * c[-1], portfolio.trades


def flat_loop(
    o: list,
    h: list,
    lo: list,
    c: list,
    v: list,
    fee: float,
    slip: float,
    cash: float,
    frac: float,
    sl: float,
    tp: float,
) -> tuple[float, int]:
    """Final equity and closed trades of the same rules as one flat loop."""
    a_f, a_s = 2 / 10, 2 / 22
    ema_f = ema_s = None
    gain = loss = 0.0
    vol_window: deque[float] = deque()
    vol_sum = 0.0
    prev_above = None
    size = entry = 0.0
    pending = ""
    trades = 0
    for i in range(len(o)):
        if pending == "exit":
            cash += size * o[i] * (1 - slip) * (1 - fee)
            size, trades = 0.0, trades + 1
        elif pending == "entry":
            entry = o[i] * (1 + slip)
            spend = cash * frac
            size, cash = spend / (1 + fee) / entry, cash - spend
        elif size > 0:
            stop, target = entry * (1 - sl), entry * (1 + tp)
            px = (
                o[i]
                if o[i] <= stop
                else stop
                if lo[i] <= stop
                else o[i]
                if o[i] >= target
                else target
                if h[i] >= target
                else 0.0
            )
            if px:
                cash += size * px * (1 - slip) * (1 - fee)
                size, trades = 0.0, trades + 1
        pending = ""
        ema_f = c[i] if ema_f is None else ema_f + a_f * (c[i] - ema_f)
        ema_s = c[i] if ema_s is None else ema_s + a_s * (c[i] - ema_s)
        if i:
            d = c[i] - c[i - 1]
            gain = (gain * 13 + max(d, 0.0)) / 14
            loss = (loss * 13 + max(-d, 0.0)) / 14
        rsi = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
        vol_window.append(v[i])
        vol_sum += v[i]
        if len(vol_window) > 20:
            vol_sum -= vol_window.popleft()
        above = ema_f > ema_s
        if i >= WARMUP and prev_above is not None:
            if above and not prev_above and rsi < 70 and v[i] >= 1.2 * vol_sum / 20:
                pending = "entry" if size == 0 else ""
            elif (not above and prev_above) or rsi > 80:
                pending = "exit" if size > 0 else ""
        prev_above = above
    return cash + size * c[-1], trades


def backtrader_run(
    frame: object, fee: float, slip: float, cash: float, frac: float, sl: float, tp: float
) -> tuple[float, int]:
    """Final equity and closed trades of the same strategy in backtrader, the widely used event-driven
    Python framework, written the way its documentation does: TA indicators as lines, a market entry
    filled at the next open, stop-loss and take-profit as OCO orders at the fill price (active from the
    next bar), a market exit on the exit signal. Sizes use the signal bar's close (backtrader sizes before
    the fill), so its trades are close to, not identical with, the lab's."""
    import backtrader as bt

    class EmaRsiVolumeBt(bt.Strategy):
        def __init__(self) -> None:
            self.cross = bt.ind.CrossOver(bt.ind.EMA(period=9), bt.ind.EMA(period=21))
            self.rsi = bt.ind.RSI(period=14, safediv=True)
            self.volume_avg = bt.ind.SMA(self.data.volume, period=20)
            self.exits: list = []
            self.filled = None

        def notify_order(self, order: object) -> None:
            if order.status == order.Completed and order.isbuy():
                self.filled = order.executed  # the stops go in at this bar's close, active from the next

        def next(self) -> None:
            if len(self) <= WARMUP:
                return
            if self.position and self.filled is not None:
                price, size = self.filled.price, self.filled.size
                stop = self.sell(exectype=bt.Order.Stop, price=price * (1 - sl), size=size)
                self.exits = [
                    stop,
                    self.sell(exectype=bt.Order.Limit, price=price * (1 + tp), size=size, oco=stop),
                ]
                self.filled = None
            if not self.position:
                if self.cross[0] > 0 and self.rsi[0] < 70 and self.data.volume[0] >= 1.2 * self.volume_avg[0]:
                    self.buy(size=self.broker.getcash() * frac / (1 + fee) / self.data.close[0])
            elif self.cross[0] < 0 or self.rsi[0] > 80:
                for order in self.exits:
                    self.cancel(order)
                self.close()

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(EmaRsiVolumeBt)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=fee)
    cerebro.broker.set_slippage_perc(slip, slip_open=True, slip_limit=False)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    (strategy,) = cerebro.run()
    closed = strategy.analyzers.trades.get_analysis().get("total", {}).get("closed", 0)
    return cerebro.broker.getvalue(), int(closed)


def _backtrader_child(n_bars: int) -> None:
    """Run backtrader on the benchmark's bars in this process and print its time and trades as JSON.
    The benchmark runs it in a child process: backtrader keeps every line of a million bars in Python
    objects (~1 GB), which would otherwise count in the lab's memory figures."""
    import json
    import time

    import pandas as pd

    from lab.market.sample import generate

    start = pd.Timestamp("2015-01-01", tz="UTC")
    frame = generate("BTC/USD", "5m", start, start + pd.Timedelta(minutes=5 * n_bars), 1, gap_rate=0)
    naive = frame.set_axis(frame.index.tz_localize(None))
    t0 = time.perf_counter()
    _, trades = backtrader_run(naive, 0.004, 0.0005, 10_000.0, 0.25, 0.03, 0.06)
    print(json.dumps({"seconds": time.perf_counter() - t0, "trades": trades}))


if __name__ == "__main__":
    import sys

    _backtrader_child(int(sys.argv[1]))
