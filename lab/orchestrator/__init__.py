"""The nightly orchestrator: LLM clients (anthropic, offline, replay), prompts, budgets, the cycle and its
gates, and the thought spool it writes (lab.store.spool)."""
