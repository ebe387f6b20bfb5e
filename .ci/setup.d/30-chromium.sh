#!/usr/bin/env bash
# Headless Chromium for the HTML report test (tests/test_report_browser.py), driven by
# playwright with executable_path=$TIERS_CHROMIUM (never `playwright install`).
# Sourced by .ci/run as root; quick when Chromium is already installed.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
fi
export TIERS_CHROMIUM="$(command -v chromium)"
echo "Chromium ready: $("${TIERS_CHROMIUM}" --version 2>/dev/null || echo "${TIERS_CHROMIUM}")"
