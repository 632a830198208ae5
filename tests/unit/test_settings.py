"""Where scns keeps things, and which source wins: environment > config file > defaults."""

from __future__ import annotations

import os

import pytest

from scns import paths
from scns.errors import InvalidInput
from scns.settings import Settings


def test_home_defaults_to_xdg_data_home(tmp_path) -> None:
    assert paths.home_dir({"XDG_DATA_HOME": str(tmp_path)}) == str(tmp_path / "scns")
    assert paths.home_dir({}).endswith(os.path.join(".local", "share", "scns"))
    assert paths.home_dir({"SCNS_HOME": str(tmp_path / "h")}) == str(tmp_path / "h")


def test_database_url_default_config_and_environment(tmp_path) -> None:
    env = {"SCNS_HOME": str(tmp_path)}
    assert paths.database_url(env) == f"sqlite:///{tmp_path}/scns.db"
    (tmp_path / "scns.toml").write_text('database_url = "sqlite:////srv/from-config.db"\n')
    assert paths.database_url(env) == "sqlite:////srv/from-config.db"
    env["SCNS_DATABASE_URL"] = "sqlite:////srv/from-env.db"
    assert paths.database_url(env) == "sqlite:////srv/from-env.db"


def test_settings_read_the_config_file_below_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SCNS_HOME", str(tmp_path))
    (tmp_path / "scns.toml").write_text("kill_wait_s = 7\nscheduler_policy = 'fifo'\n")
    settings = Settings()
    assert (settings.kill_wait_s, settings.scheduler_policy) == (7, "fifo")
    assert settings.database_url == f"sqlite:///{tmp_path}/scns.db"
    monkeypatch.setenv("SCNS_KILL_WAIT_S", "3")
    assert Settings().kill_wait_s == 3
    assert Settings().pool == {"pool_size": 20, "max_overflow": 10, "pool_pre_ping": True,
                               "pool_recycle": 3600}  # fmt: skip


def test_a_broken_config_file_is_one_clear_error(tmp_path) -> None:
    (tmp_path / "scns.toml").write_text("this is = not toml [")
    with pytest.raises(InvalidInput, match=r"scns\.toml"):
        paths.read_config({"SCNS_HOME": str(tmp_path)})


def test_the_fast_paths_know_every_setting_and_nothing_else() -> None:
    assert frozenset(Settings.model_fields) == paths.SETTING_NAMES


def test_an_unknown_config_key_is_refused_naming_the_key_and_the_file(tmp_path) -> None:
    (tmp_path / "scns.toml").write_text("kill_wait_s = 7\nschedular_policy = 'fifo'\n")
    with pytest.raises(InvalidInput) as caught:
        paths.read_config({"SCNS_HOME": str(tmp_path)})
    message = str(caught.value)
    assert message == (f"unknown key 'schedular_policy' in {tmp_path}/scns.toml"
                       " (did you mean scheduler_policy?)")  # fmt: skip
    assert "\n" not in message
