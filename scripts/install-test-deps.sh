#!/usr/bin/env bash
# Install the system packages the test suite's real services need (Debian 12, as root):
# a private Dovecot IMAP server, Chromium for Playwright, and openssl for test certificates.
# Idempotent: packages already present are left alone, and `apt-get update` runs only
# when something has to be installed. The Dovecot system service is kept stopped,
# because tests start their own throw-away instance.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(dovecot-imapd chromium chromium-driver openssl)

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

if [ "$(id -u)" -ne 0 ]; then
    all_there=yes
    for pkg in "${PACKAGES[@]}"; do is_installed "$pkg" || all_there=no; done
    if [ "$all_there" = yes ]; then
        echo "install-test-deps: everything already installed"
        exit 0
    fi
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        exec sudo -n "$0" "$@"
    fi
    # Without root the tests that need these services skip with a reason
    # (and fail under CI=true, where a missing service is an error).
    echo "install-test-deps: not root; cannot install ${PACKAGES[*]}" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    if is_installed "$pkg"; then
        echo "install-test-deps: $pkg already installed"
    else
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-test-deps: installing ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    echo "install-test-deps: installed ${missing[*]}"
else
    echo "install-test-deps: nothing to install"
fi

# The packaged service would hold ports 143/993 and is not used by the tests.
stopped=0
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    if systemctl is-active --quiet dovecot 2>/dev/null; then
        systemctl stop dovecot
        stopped=1
    fi
    systemctl disable dovecot >/dev/null 2>&1 || true
elif [ -f /run/dovecot/master.pid ] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
    # No systemd (containers): stop the system instance started by the package, if any.
    if command -v service >/dev/null 2>&1; then
        service dovecot stop || true
    fi
    if [ -f /run/dovecot/master.pid ] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
        dovecot stop || true
    fi
    stopped=1
fi
if [ "$stopped" -eq 1 ]; then
    echo "install-test-deps: stopped the dovecot system service"
else
    echo "install-test-deps: dovecot system service not running"
fi

# Fail loudly if an expected binary is still absent.
for bin in dovecot chromium openssl; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "install-test-deps: $bin not found after install" >&2
        exit 1
    fi
done
if [ ! -f /usr/share/dovecot/dh.pem ]; then
    echo "install-test-deps: /usr/share/dovecot/dh.pem missing" >&2
    exit 1
fi

echo "install-test-deps: done ($(dovecot --version | cut -d' ' -f1) dovecot," \
    "$(chromium --version 2>/dev/null | head -n1))"
