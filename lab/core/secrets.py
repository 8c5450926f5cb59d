"""The lab's secrets live only in the environment; this names them and scrubs their values out of any
text before it is stored or shown (a model can echo what it was never given, e.g. from a tool result)."""

from __future__ import annotations

import os

SECRET_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "LAB_EXCHANGE_API_KEY",
    "LAB_EXCHANGE_API_SECRET",
    "LAB_DASHBOARD_TOKEN",
)
MASK = "[redacted]"


def secret_values() -> list[str]:
    # Short values are not scrubbed: a 3-character "secret" would mangle ordinary text.
    return [v for k in SECRET_ENV if len(v := os.environ.get(k, "")) >= 8]


def scrub(text: str) -> str:
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return text
