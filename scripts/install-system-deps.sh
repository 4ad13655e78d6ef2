#!/usr/bin/env bash
# System packages the test suite needs: Debian's chromium for the browser tests (Playwright's own
# browser download cannot work offline). Installed only when missing, and only as root.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "note: chromium is not installed and this is not root; browser tests will be skipped." >&2
    echo "      install it with: sudo apt-get install chromium" >&2
    exit 0
fi
echo "installing chromium (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
