#!/usr/bin/env bash
# Debian's chromium for the web page's browser test (tests/web/test_web_browser.py), driven by Python Playwright.
# Never a downloaded browser build: the distribution's package, installed when missing (root with apt-get), else
# a message saying how. `make test` runs this first.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
  exit 0
fi
echo "chromium is not installed (Debian: apt-get install chromium); the browser test will be skipped outside CI" >&2
exit 0
