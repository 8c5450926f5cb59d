"""Child process for the crash test: replays the project's candles through the paper engine."""

import sys

from lab.core.config import load_config
from lab.trading.setup import ExtraBook, replay_engine

if __name__ == "__main__":
    cfg = load_config()
    engine = replay_engine(
        cfg,
        "ema_rsi_volume",
        ["BTC/USD", "ETH/USD", "SOL/USD"],
        exchange="synthetic",
        pace=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0,
        signal_mode=sys.argv[2] if len(sys.argv) > 2 else "precomputed",
        books=[ExtraBook("shadow:bollinger", "bollinger_rsi_reversion")] if "two-books" in sys.argv else None,
    )
    print(engine.run().steps, flush=True)
