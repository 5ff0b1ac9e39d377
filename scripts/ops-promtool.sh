#!/usr/bin/env bash
# ops-promtool.sh SOURCE_DIR: validates the Prometheus alerting rules (promtool check rules) and
# runs their unit tests (promtool test rules deploy/prometheus/vectorvue-alerts.test.yml).
# Exits 77 (CTest "skipped") when promtool is not installed (Debian package: prometheus,
# installed by scripts/install-deps.sh).
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 SOURCE_DIR" >&2
  exit 2
fi
if ! command -v promtool >/dev/null 2>&1; then
  echo "ops-promtool: promtool not found (apt-get install prometheus); skipping" >&2
  exit 77
fi
cd "$1/deploy/prometheus"
promtool check rules vectorvue-alerts.yml
promtool test rules vectorvue-alerts.test.yml
