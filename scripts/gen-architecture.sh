#!/usr/bin/env bash
# Regenerates docs/architecture.svg from docs/architecture.dot (Graphviz; Debian: graphviz).
# The SVG is committed so the README shows it without a build; run this after editing the .dot.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dot >/dev/null || { echo "gen-architecture: needs Graphviz 'dot' (apt-get install graphviz)" >&2; exit 2; }
dot -Tsvg docs/architecture.dot -o docs/architecture.svg.tmp
mv docs/architecture.svg.tmp docs/architecture.svg
echo "wrote docs/architecture.svg"
