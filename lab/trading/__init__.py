"""Trading: the engine loop, feeds, brokers, risk, ledger, sizing, health and operator commands."""
