"""Production settings pass `manage.py check --deploy` with no warning at all."""

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "HELPDESK_", "SECRET_KEY", "DEBUG", "HTTPS", "SECURE_"))
    }
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(60)),
        DEBUG="false",
        ALLOWED_HOSTS="helpdesk.example",
        HELPDESK_VAR_DIR=str(tmp_path / "var"),
        HELPDESK_MAIL_AUTHSERV_IDS="mx.helpdesk.example",
    )
    env.update(extra)
    return env


def check_deploy(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = check_deploy(production_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output and "?: (security." not in output, output


def test_behind_a_proxy_also_passes(tmp_path):
    result = check_deploy(
        production_env(
            tmp_path, BEHIND_PROXY="true", CSRF_TRUSTED_ORIGINS="https://helpdesk.example"
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_does_fail_on_an_insecure_setting(tmp_path):
    # Proves the test above can fail: switching HTTPS off raises security warnings.
    result = check_deploy(production_env(tmp_path, HTTPS="false"))
    assert result.returncode != 0
    assert "security.W" in result.stdout + result.stderr


def test_the_check_refuses_mail_that_trusts_any_from(tmp_path):
    result = check_deploy(production_env(tmp_path, HELPDESK_MAIL_SENDER_AUTH="off"))
    assert result.returncode != 0
    assert "mailbridge.E001" in result.stdout + result.stderr


def test_the_check_warns_when_no_mail_server_is_trusted(tmp_path):
    result = check_deploy(production_env(tmp_path, HELPDESK_MAIL_AUTHSERV_IDS=""))
    assert result.returncode != 0
    assert "mailbridge.W001" in result.stdout + result.stderr


def test_the_check_refuses_demo_mode_with_production_settings(tmp_path):
    result = check_deploy(production_env(tmp_path, HELPDESK_DEMO="true"))
    assert result.returncode != 0
    assert "mailbridge.E002" in result.stdout + result.stderr


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, db):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in policy
