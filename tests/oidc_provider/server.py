"""Start and stop the test identity provider as a real server on 127.0.0.1.

start_provider() prepares a folder (RSA key, SQLite database, people.json),
registers the helpdesk as a client and runs `django runserver` in a
subprocess; Provider.stop() ends that process by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


@dataclass
class Provider:
    """A running test provider: its URLs, the client registered in it and its people."""

    directory: Path
    base_url: str
    client_id: str
    client_secret: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def people_path(self) -> Path:
        return self.directory / "people.json"

    def endpoint(self, name: str) -> str:
        """Return the URL of an endpoint: authorize, token, userinfo, jwks or logout."""
        paths = {
            "authorize": "/o/authorize/",
            "token": "/o/token/",
            "userinfo": "/o/userinfo/",
            "jwks": "/o/.well-known/jwks.json",
            "logout": "/o/logout/",
            "discovery": "/o/.well-known/openid-configuration",
        }
        return self.base_url + paths[name]

    def helpdesk_settings(self) -> dict[str, object]:
        """Return the helpdesk settings that point it at this provider."""
        return {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": self.endpoint("authorize"),
            "OIDC_OP_TOKEN_ENDPOINT": self.endpoint("token"),
            "OIDC_OP_USER_ENDPOINT": self.endpoint("userinfo"),
            "OIDC_OP_JWKS_ENDPOINT": self.endpoint("jwks"),
            "OIDC_OP_LOGOUT_ENDPOINT": self.endpoint("logout"),
            "OIDC_RP_SIGN_ALGO": "RS256",
            "OIDC_RP_SCOPES": "openid email profile neispuo",
            "OIDC_USE_PKCE": True,
            "OIDC_TIMEOUT": 10,
            "OIDC_STORE_ID_TOKEN": True,
            "OIDC_OP_LOGOUT_URL_METHOD": "accounts.oidc.provider_logout_url",
        }

    def set_person(self, login: str, password: str, **claims: object) -> None:
        """Add or replace one person (login, password and the claims to send)."""
        people = json.loads(self.people_path.read_text(encoding="utf-8"))
        people[login] = {"password": password, **claims}
        tmp = self.people_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(people, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.people_path)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the server's output (for error messages)."""
        with contextlib.suppress(OSError):
            text = (self.directory / "server.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def write_rsa_key(path: Path) -> None:
    """Write a fresh 2048-bit RSA private key (PEM, PKCS#8) to `path`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _environment(directory: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    env["OIDC_PROVIDER_DIR"] = str(directory)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _manage(directory: Path, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=PROJECT_ROOT,
        env=_environment(directory),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"provider: {' '.join(args)} failed (exit {result.returncode}):\n"
            f"{result.stderr}\n{result.stdout}"
        )


def start_provider(
    directory: Path,
    *,
    redirect_uri: str,
    post_logout_uri: str = "",
    port: int,
    timeout: float = 30.0,
) -> Provider:
    """Prepare `directory`, register the client and run the provider on `port`.

    Returns the running Provider once its discovery document answers; the caller
    must stop() it. Raises RuntimeError if it does not come up within `timeout`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    write_rsa_key(directory / "rsa.pem")
    (directory / "people.json").write_text("{}", encoding="utf-8")
    provider = Provider(
        directory=directory,
        base_url=f"http://{HOST}:{port}",
        client_id="helpdesk-" + secrets.token_hex(4),
        client_secret=secrets.token_urlsafe(32),
    )
    _manage(directory, "migrate", "--noinput", "--verbosity", "0")
    _manage(
        directory,
        "register_client",
        "--client-id",
        provider.client_id,
        "--client-secret",
        provider.client_secret,
        "--redirect-uri",
        redirect_uri,
        "--post-logout-uri",
        post_logout_uri,
    )
    log = (directory / "server.log").open("wb")
    provider.process = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"{HOST}:{port}", "--noreload"],
        cwd=PROJECT_ROOT,
        env=_environment(directory),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not provider.running:
            break
        with contextlib.suppress(requests.RequestException):
            if requests.get(provider.endpoint("discovery"), timeout=2).status_code == 200:
                return provider
        time.sleep(0.1)
    provider.stop()
    raise RuntimeError(f"the test OIDC provider did not start:\n{provider.log_tail()}")
