#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright cannot download its own browser here) and CJK
# fonts so console screenshots show Chinese. Installs them with apt where it can (as root); otherwise
# says loudly that the browser tests will be skipped. Never fails the build by itself.
set -u
if [ -x /usr/bin/chromium ] && [ -d /usr/share/fonts/opentype/noto ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
    || echo "warning: could not install chromium/fonts with apt" >&2
fi
if [ ! -x /usr/bin/chromium ]; then
  cat >&2 <<'TXT'
************************************************************************************************
* /usr/bin/chromium is missing and could not be installed (needs root and apt):                *
* the browser tests (tests/web/test_*_browser.py) WILL BE SKIPPED.                             *
* Install it with:  sudo apt-get install chromium fonts-noto-cjk                               *
************************************************************************************************
TXT
fi
exit 0
