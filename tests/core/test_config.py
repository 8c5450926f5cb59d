from pathlib import Path

import pytest

from lab.core.config import load_config
from lab.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_lab_toml_is_valid_and_documents_kraken_fees():
    cfg = load_config(ROOT / "lab.toml", env={})
    assert cfg.fees.maker == 0.0025 and cfg.fees.taker == 0.0040
    assert cfg.db_url == f"sqlite:///{ROOT / 'data' / 'lab.db'}"
    assert cfg.market.retention == {"5m": 90, "1h": 730, "1d": 0}


def test_env_overrides_are_typed_and_db_url_has_a_short_name(lab_root):
    cfg = load_config(
        lab_root / "lab.toml",
        env={
            "LAB_BACKTEST__INITIAL_CASH": "5000",
            "LAB_DB_URL": "sqlite:////x.db",
            "LAB_MARKET__SYMBOLS": '["ADA/USD"]',
        },
    )
    assert cfg.backtest.initial_cash == 5000.0
    assert cfg.db_url == "sqlite:////x.db"
    assert cfg.market.symbols == ("ADA/USD",)


def test_bad_value_names_key_value_source_and_rule(lab_root):
    with pytest.raises(ConfigError) as err:
        load_config(lab_root / "lab.toml", env={"LAB_FEES__TAKER": "-0.1"})
    assert "LAB_FEES__TAKER: fees.taker = -0.1: Input should be greater than or equal to 0" in str(err.value)


def test_unknown_key_lists_allowed_keys(lab_root):
    (lab_root / "lab.toml").write_text("[backtest]\ninitial_cash = 1\nmax_open = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(lab_root / "lab.toml", env={})
    message = str(err.value)
    assert "lab.toml: unknown key 'backtest.max_open'" in message
    assert "max_open_positions" in message


def test_bad_symbol_and_timeframe_are_explained(lab_root):
    (lab_root / "lab.toml").write_text('[market]\nsymbols = ["BTCUSD"]\ntimeframes = ["5x"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(lab_root / "lab.toml", env={})
    assert "'BTCUSD' must look like BASE/QUOTE" in str(err.value)
    assert "timeframe '5x' is not valid" in str(err.value)


def test_config_is_frozen(cfg):
    with pytest.raises(Exception, match="frozen"):
        cfg.backtest.initial_cash = 1  # type: ignore[misc]


def test_invalid_toml_is_reported_with_the_file(lab_root):
    (lab_root / "lab.toml").write_text("[market\n")
    with pytest.raises(ConfigError, match=r"lab\.toml: not valid TOML"):
        load_config(lab_root / "lab.toml", env={})
