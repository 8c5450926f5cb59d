"""The thought-spool view without a browser: cycles with filters, a cycle's stages in order with full
responses and errors, search, observations and a candidate's lineage."""

from __future__ import annotations

from lab.dashboard.thoughts import ThoughtsApp
from lab.orchestrator.nightly import run_nightly
from lab.orchestrator.offline import OfflinePolicy
from tests.orchestrator.helpers import night_project


def test_the_spool_view_lists_cycles_shows_stages_lineage_and_searches(lab_root):
    cfg = night_project(lab_root)
    empty = ThoughtsApp(cfg, refresh_seconds=60)
    assert "0 cycles" in empty.header.value and "no cycle chosen" in empty.detail.value
    first = run_nightly(cfg, client=OfflinePolicy(), tools=False)  # the losing paper book: a strategy update
    second = run_nightly(cfg, client=OfflinePolicy(), tools=False)  # tried already: no change
    assert (first.decision, second.decision) == ("STRATEGY_UPDATE", "NO_CHANGE")
    app = ThoughtsApp(cfg, refresh_seconds=60)
    assert "2 cycles" in app.header.value
    assert [v for _l, v in app.cycle_list.options] == [second.cycle_id, first.cycle_id]
    assert "NO_CHANGE" in app.detail.value and "[1] analyze · offline" in app.detail.value
    app.cycle_list.value = first.cycle_id
    assert "[4] review · offline" in app.detail.value and "STRATEGY_UPDATE" in app.detail.value
    name = f"ema_rsi_volume_c{first.cycle_id}"
    assert name in app.lineage.value and "parent <b>ema_rsi_volume 1.0.0</b>" in app.lineage.value
    assert (
        "✓ <b>lookahead</b>" in app.lineage.value
        and f"shadow:{name}: active, 0 closed trades" in app.lineage.value
    )
    assert "+        volume_min: float = param(1.4," in app.lineage.value
    assert "loses" in app.notes.value or "closed trades" in app.notes.value
    app.decision.value = "NO_CHANGE"
    assert [v for _l, v in app.cycle_list.options] == [second.cycle_id]
    app.decision.value = "all"
    app.query.value = "tighten its entry filter"
    app._search()
    assert "«tighten»" in app.hits.value or "tighten" in app.hits.value
    assert app.cycle_list.value == first.cycle_id
