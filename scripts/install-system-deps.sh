#!/usr/bin/env bash
# System packages the test suite needs: Debian's chromium for the browser tests (Playwright's own
# browser download cannot work offline) and redis-server, the broker of the Celery executor test.
# Installed only when missing, and only as root.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" = "0" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "note: ${missing[*]} not installed and this is not root; the tests that need them will be skipped." >&2
    echo "      install with: sudo apt-get install ${missing[*]}" >&2
    exit 0
fi
echo "installing ${missing[*]} (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
