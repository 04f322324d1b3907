"""Settings from the environment: a bad value stops start-up and names the variable."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_rate,
    env_str,
    env_url,
)

ROOT = Path(__file__).resolve().parent.parent
VAR = "HD_TEST_VALUE"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("No", False),
        ("0", False),
        ("off", False),
        ("", True),  # empty counts as unset: the default
    ],
)
def test_env_bool_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, True) is expected


def test_env_bool_default_when_unset(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    assert env_bool(VAR, False) is False
    assert env_bool(VAR, True) is True


def test_env_int_and_list_and_str(monkeypatch):
    monkeypatch.setenv(VAR, " 42 ")
    assert env_int(VAR, 1, minimum=42) == 42
    monkeypatch.setenv(VAR, "a.example, b.example,,")
    assert env_list(VAR, ["x"]) == ["a.example", "b.example"]
    monkeypatch.delenv(VAR)
    assert env_int(VAR, 7) == 7
    assert env_list(VAR, ["x"]) == ["x"]
    assert env_str(VAR, "d") == "d"


@pytest.mark.parametrize(
    "raw, call",
    [
        ("maybe", lambda: env_bool(VAR, False)),
        ("2", lambda: env_bool(VAR, False)),
        ("ten", lambda: env_int(VAR, 1)),
        ("1.5", lambda: env_int(VAR, 1)),
        ("   ", lambda: env_int(VAR, 1)),
        ("0", lambda: env_int(VAR, 1, minimum=1)),
        ("-5", lambda: env_int(VAR, 1, minimum=0)),
        ("mysql://db/helpdesk", lambda: env_url(VAR, ("postgres", "sqlite"))),
        ("127.0.0.1:6379", lambda: env_url(VAR, ("redis",))),
        ("LOUD", lambda: env_choice(VAR, "INFO", ("DEBUG", "INFO"))),
        ("info", lambda: env_choice(VAR, "INFO", ("DEBUG", "INFO"))),
        ("600", lambda: env_rate(VAR, "1/second")),
        ("600/fortnight", lambda: env_rate(VAR, "1/second")),
    ],
)
def test_bad_values_raise_config_error_naming_the_variable(monkeypatch, raw, call):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ConfigError) as info:
        call()
    assert VAR in str(info.value)


def test_good_urls_choices_and_rates(monkeypatch):
    monkeypatch.setenv(VAR, "postgres://u@127.0.0.1/db")
    assert env_url(VAR, ("postgres",)) == "postgres://u@127.0.0.1/db"
    monkeypatch.setenv(VAR, "DEBUG")
    assert env_choice(VAR, "INFO", ("DEBUG", "INFO")) == "DEBUG"
    monkeypatch.setenv(VAR, "30/hour")
    assert env_rate(VAR, "1/second") == "30/hour"
    monkeypatch.delenv(VAR)
    assert env_url(VAR, ("postgres",)) == ""
    assert env_choice(VAR, "INFO", ("DEBUG", "INFO")) == "INFO"


# --- reading the settings file with a given environment ------------------------------

GOOD_SECRET = "k" * 20 + "3Xq9-Lm_Zt7" * 4  # 64 characters
SETTINGS_FILE = ROOT / "helpdesk" / "settings.py"
CLEARED = ("HELPDESK_", "SECRET_KEY", "DEBUG", "OIDC_", "HTTPS", "EMAIL_", "SITE_URL", "API_RATE")


def production_env(tmp_path, **env):
    """A production-like environment: real secret, no debug, no test or demo mode."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    base.update(HELPDESK_VAR_DIR=str(tmp_path / "var"), SECRET_KEY=GOOD_SECRET, DEBUG="false")
    for key, value in env.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def load_settings(monkeypatch, tmp_path, **env):
    """Execute helpdesk/settings.py afresh under `env`; return its namespace."""
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in production_env(tmp_path, **env).items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_production_like_environment_loads(monkeypatch, tmp_path):
    namespace = load_settings(monkeypatch, tmp_path)
    assert namespace["DEBUG"] is False and namespace["SECRET_KEY"] == GOOD_SECRET
    assert namespace["SESSION_COOKIE_SECURE"] and namespace["SECURE_SSL_REDIRECT"]


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DEBUG", "maybe"),
        ("HELPDESK_DEMO", "sometimes"),
        ("HELPDESK_MAX_FILES", "0"),
        ("HELPDESK_MAX_TEXT_CHARS", "lots"),
        ("HELPDESK_REOPEN_DAYS", "-1"),
        ("EMAIL_PORT", "smtp"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/helpdesk"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("SITE_URL", "helpdesk.example"),
        ("LOG_LEVEL", "LOUD"),
        ("API_RATE", "fast"),
        ("HTTPS", "yes please"),
        ("SECRET_KEY", "too-short"),
        ("SECRET_KEY", None),
        ("SECRET_KEY", ""),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, tmp_path, variable, value):
    with pytest.raises(ConfigError) as info:
        load_settings(monkeypatch, tmp_path, **{variable: value})
    assert variable in str(info.value)


def test_tls_and_ssl_together_are_refused(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="EMAIL_USE_TLS"):
        load_settings(monkeypatch, tmp_path, EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")


@pytest.mark.parametrize("mode", ["DEBUG", "HELPDESK_DEMO", "HELPDESK_TESTING"])
def test_secret_key_may_be_left_out_for_debug_demo_and_tests(monkeypatch, tmp_path, mode):
    namespace = load_settings(monkeypatch, tmp_path, SECRET_KEY=None, **{mode: "true"})
    assert len(namespace["SECRET_KEY"]) >= 50


# --- start-up in a fresh interpreter ------------------------------------------------


def start(tmp_path, **env):
    """Run django.setup() in a new interpreter; return the finished process."""
    env = production_env(tmp_path, DJANGO_SETTINGS_MODULE="helpdesk.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_start_up_succeeds_with_good_values(tmp_path):
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("variable, value", [("DEBUG", "maybe"), ("SECRET_KEY", None)])
def test_start_up_stops_with_a_message_naming_the_variable(tmp_path, variable, value):
    result = start(tmp_path, **{variable: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ConfigError" in last_line and variable in last_line, result.stderr[-2000:]


def test_test_settings_are_the_embedded_default(settings):
    # The suite runs with the embedded default unless DATABASE_URL / REDIS_URL say otherwise.
    if not os.environ.get("DATABASE_URL"):
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    if not os.environ.get("REDIS_URL"):
        assert settings.CELERY_BROKER_URL == "filesystem://"
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    assert settings.LANGUAGE_CODE == "bg"
    assert settings.TIME_ZONE == "Europe/Sofia" and settings.USE_TZ
