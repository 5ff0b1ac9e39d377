#!/usr/bin/env bash
# Regenerates the committed diagrams from their Graphviz sources (Debian: graphviz):
#   docs/architecture.dot -> docs/architecture.svg   (README)
#   docs/topology.dot     -> docs/topology.svg       (docs/operations.md, scale-out guide)
# The SVGs are committed so the docs show them without a build; run this after editing a .dot.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dot >/dev/null || { echo "gen-architecture: needs Graphviz 'dot' (apt-get install graphviz)" >&2; exit 2; }
for name in architecture topology; do
  dot -Tsvg "docs/$name.dot" -o "docs/$name.svg.tmp"
  mv "docs/$name.svg.tmp" "docs/$name.svg"
  echo "wrote docs/$name.svg"
done
