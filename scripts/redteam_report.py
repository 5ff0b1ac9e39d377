#!/usr/bin/env python3
"""Renders red-team test results (gtest --gtest_output=json files) as ONE self-contained HTML page.

Usage:
  redteam_report.py --out OUT.html [--revision REV] [--generated WHEN] JSON_FILE...
  redteam_report.py --out OUT.html --from-json DIR            (every *.json in DIR)

Each gtest test is one scenario. The properties recorded by tests/redteam/scenario.h
(rt_category, rt_expected, rt_observed, rt_audit, and rt_defect for a known defect that is
skipped) become the table's columns; gtest's own result gives the status (passed, failed,
skipped; a binary that produced no JSON is reported by redteam-report.sh as a failed entry).

The page needs nothing from the network: inline CSS, an inline SVG bar chart, no scripts
(collapsible cells are <details>). Everything that came from test output is HTML-escaped and
bounded in length, because scenario text is attacker-shaped by design (requests, reasons, logs).

Standard library only (python3 is on every machine the project builds on).
"""

import argparse
import datetime
import glob
import html
import json
import os
import sys

# The categories of tests/redteam/scenario.h, in the order the chart shows them.
CATEGORIES = ["transport", "tls", "authn", "authz", "replay", "schema", "parser", "resource",
              "audit", "backend", "admin", "ops"]
STATUSES = ["passed", "failed", "skipped"]
COLORS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#ef8f00"}
MAX_FIELD = 4000      # characters shown per text cell (the rest is cut, with a marker)
MAX_EVIDENCE = 8000   # characters shown per audit-evidence / failure cell


def esc(value, limit=MAX_FIELD):
    """HTML-escapes any value (quotes too); long text is cut with a visible marker."""
    s = "" if value is None else str(value)
    cut = ""
    if len(s) > limit:
        cut = " [... %d more characters]" % (len(s) - limit)
        s = s[:limit]
    # Control characters other than tab/newline would make the page ill-formed XML-wise and are
    # invisible anyway: show them as \\xNN.
    s = "".join(c if c in "\t\n" or ord(c) >= 0x20 and ord(c) != 0x7f else "\\x%02x" % ord(c)
                for c in s)
    return html.escape(s, quote=True) + html.escape(cut)


class Scenario:
    __slots__ = ("binary", "suite", "name", "category", "expected", "observed", "audit",
                 "defect", "status", "failures", "time", "file", "line")


def load_results(paths):
    """Scenarios from gtest JSON files; a file that cannot be read becomes a failed entry."""
    scenarios = []
    for path in paths:
        binary = os.path.basename(path)
        if binary.endswith(".json"):
            binary = binary[:-5]
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                doc = json.load(f)
            suites = doc.get("testsuites", [])
            if not isinstance(suites, list):
                raise ValueError("'testsuites' is not a list")
        except (OSError, ValueError) as e:
            s = Scenario()
            s.binary, s.suite, s.name = binary, "", "(unreadable result file)"
            s.category, s.expected, s.observed, s.audit, s.defect = "ops", "", "", "", ""
            s.status, s.failures, s.time, s.file, s.line = "failed", [str(e)], "", path, ""
            scenarios.append(s)
            continue
        for suite in suites:
            for t in suite.get("testsuite", []):
                s = Scenario()
                s.binary = binary
                s.suite = str(suite.get("name", ""))
                s.name = str(t.get("name", ""))
                s.category = str(t.get("rt_category", "") or "uncategorised")
                s.expected = t.get("rt_expected", "")
                s.observed = t.get("rt_observed", "")
                s.audit = t.get("rt_audit", "")
                s.defect = t.get("rt_defect", "")
                s.failures = [str(f.get("failure", "")) for f in t.get("failures", []) or []]
                s.time = str(t.get("time", ""))
                s.file = str(t.get("file", ""))
                s.line = str(t.get("line", ""))
                result = t.get("result", "COMPLETED")
                if s.failures:
                    s.status = "failed"
                elif result == "SKIPPED" or t.get("status") == "NOTRUN" or result == "SUPPRESSED":
                    s.status = "skipped"
                else:
                    s.status = "passed"
                scenarios.append(s)
    return scenarios


def bar_chart(scenarios):
    """Inline SVG: one horizontal stacked bar per category (passed / failed / skipped)."""
    counts = {}
    for s in scenarios:
        counts.setdefault(s.category, {k: 0 for k in STATUSES})[s.status] += 1
    cats = [c for c in CATEGORIES if c in counts] + sorted(c for c in counts if c not in CATEGORIES)
    if not cats:
        return '<p class="muted">No scenarios.</p>'
    label_w, bar_w, row_h, top = 110, 560, 28, 34
    most = max(sum(v.values()) for v in counts.values())
    width = label_w + bar_w + 150
    height = top + row_h * len(cats) + 10
    out = ['<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Results by category" '
           'width="%d" height="%d" viewBox="0 0 %d %d" class="chart">' % (width, height, width, height)]
    # Legend.
    x = label_w
    for st in STATUSES:
        out.append('<rect x="%d" y="6" width="12" height="12" fill="%s"/>' % (x, COLORS[st]))
        out.append('<text x="%d" y="16" class="legend">%s</text>' % (x + 17, esc(st)))
        x += 95
    for i, c in enumerate(cats):
        y = top + i * row_h
        out.append('<text x="%d" y="%d" class="label" text-anchor="end">%s</text>'
                   % (label_w - 8, y + 16, esc(c, 40)))
        x = label_w
        for st in STATUSES:
            n = counts[c][st]
            if n == 0:
                continue
            w = max(2, round(bar_w * n / most))
            out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %d %s'
                       '</title></rect>' % (x, y + 3, w, row_h - 8, COLORS[st], esc(c, 40), n, st))
            if w >= 18:
                out.append('<text x="%d" y="%d" class="count" text-anchor="middle">%d</text>'
                           % (x + w // 2, y + 17, n))
            x += w
        total = sum(counts[c].values())
        out.append('<text x="%d" y="%d" class="total">%d</text>' % (x + 6, y + 17, total))
    out.append("</svg>")
    return "\n".join(out)


def audit_summary(text):
    """A one-line summary of audit evidence: "event_type: reason" of each JSONL record in it
    (the gateway's audit format), else the first line of the text."""
    lines = [l for l in str(text).splitlines() if l.strip()]
    parts = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            break
        if not isinstance(rec, dict) or not isinstance(rec.get("event_type"), str):
            break
        details = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        reason = details.get("reason")
        parts.append(rec["event_type"] + (": " + str(reason) if reason is not None else ""))
    if parts and len(parts) == len(lines):
        return "; ".join(parts)
    first = lines[0] if lines else ""
    return first[:70] + ("..." if len(first) > 70 or len(lines) > 1 else "")


def collapsible(text, summary_words, limit=MAX_EVIDENCE, css="evidence"):
    if not text:
        return '<span class="muted">-</span>'
    summary = audit_summary(text)
    return ('<details><summary>%s <span class="muted">(%s, %d chars)</span></summary>'
            '<pre class="%s">%s</pre></details>'
            % (esc(summary, 160), esc(summary_words), len(str(text)), css, esc(text, limit)))


CSS = """
:root { --fg:#1d2329; --muted:#68737d; --line:#d9dee3; --bg:#ffffff; --head:#f3f5f7; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif;
       color: var(--fg); background: var(--bg); margin: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin-bottom: 16px; }
.meta code { color: var(--fg); }
.totals { display: flex; gap: 12px; margin: 10px 0 4px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 16px; min-width: 110px; }
.tile .n { font-size: 24px; font-weight: 600; }
.tile.passed .n { color: #2e7d32; } .tile.failed .n { color: #c62828; }
.tile.skipped .n { color: #b36b00; }
.chart text { font: 12px "DejaVu Sans", Arial, sans-serif; fill: var(--fg); }
.chart .count { fill: #fff; font-weight: 600; }
.chart .total { fill: var(--muted); }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; word-break: break-word; }
th { background: var(--head); position: sticky; top: 0; font-weight: 600; }
col.c-name { width: 18%; } col.c-cat { width: 8%; } col.c-exp { width: 22%; }
col.c-obs { width: 24%; } col.c-aud { width: 20%; } col.c-st { width: 8%; }
tr.failed td { background: #fdf1f1; } tr.skipped td { background: #fff8ec; }
.name { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.bin { color: var(--muted); font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 12px; font-weight: 600; }
.badge.passed { background: #2e7d32; } .badge.failed { background: #c62828; }
.badge.skipped { background: #ef8f00; }
.cat { display: inline-block; padding: 0 6px; border: 1px solid var(--line); border-radius: 4px;
       font-size: 12px; }
.muted { color: var(--muted); }
.defect { color: #8a4b00; margin-top: 4px; }
details summary { cursor: pointer; color: #1f5fa8; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font: 11.5px/1.4 "DejaVu Sans Mono", monospace;
      background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 6px;
      margin: 6px 0 0; max-height: 360px; overflow: auto; }
pre.failure { background: #fdf1f1; }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
"""


def render(scenarios, revision, generated, sources):
    totals = {k: 0 for k in STATUSES}
    for s in scenarios:
        totals[s.status] += 1
    order = {st: i for i, st in enumerate(["failed", "skipped", "passed"])}
    cat_order = {c: i for i, c in enumerate(CATEGORIES)}
    rows = sorted(scenarios, key=lambda s: (order[s.status], cat_order.get(s.category, 99),
                                            s.binary, s.suite, s.name))
    p = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         '<title>VectorVue red-team report</title>', '<style>' + CSS + '</style>', '</head>',
         '<body>', '<h1>VectorVue red-team report</h1>',
         '<div class="meta">Generated <code>%s</code> &middot; revision <code>%s</code> &middot; '
         '%d scenarios from %d result file(s)</div>'
         % (esc(generated, 64), esc(revision, 80), len(scenarios), len(sources))]
    p.append('<div class="totals">')
    for st in STATUSES:
        p.append('<div class="tile %s"><div class="n">%d</div><div>%s</div></div>'
                 % (st, totals[st], st))
    p.append('</div>')
    p.append('<h2>Results by category</h2>')
    p.append(bar_chart(scenarios))
    p.append('<h2>Scenarios</h2>')
    p.append('<table><colgroup><col class="c-name"><col class="c-cat"><col class="c-exp">'
             '<col class="c-obs"><col class="c-aud"><col class="c-st"></colgroup>')
    p.append('<thead><tr><th>Scenario</th><th>Category</th><th>Expected</th><th>Observed</th>'
             '<th>Audit evidence</th><th>Status</th></tr></thead><tbody>')
    for s in rows:
        observed = esc(s.observed) if s.observed else '<span class="muted">-</span>'
        if s.defect:
            observed += '<div class="defect"><strong>Known defect:</strong> %s</div>' % esc(s.defect)
        if s.failures:
            observed += collapsible("\n\n".join(s.failures), "failure", css="evidence failure")
        where = "%s / %s" % (s.binary, s.suite) if s.suite else s.binary
        p.append('<tr class="%s"><td><div class="name">%s</div><div class="bin">%s%s</div></td>'
                 '<td><span class="cat">%s</span></td><td>%s</td><td>%s</td><td>%s</td>'
                 '<td><span class="badge %s">%s</span></td></tr>'
                 % (s.status, esc(s.name, 300), esc(where, 300),
                    (" &middot; " + esc(s.time, 20)) if s.time else "",
                    esc(s.category, 40),
                    esc(s.expected) if s.expected else '<span class="muted">-</span>',
                    observed, collapsible(s.audit, "audit record"), s.status, s.status))
    p.append('</tbody></table>')
    p.append('<footer>Result files: %s. Rendered by scripts/redteam_report.py from gtest JSON '
             '(scenario properties of tests/redteam/scenario.h).</footer>'
             % esc(", ".join(os.path.basename(x) for x in sources), 2000))
    p.append('</body></html>')
    return "\n".join(p) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="HTML file to write")
    ap.add_argument("--from-json", metavar="DIR", help="render every *.json in DIR")
    ap.add_argument("--revision", default="unknown", help="git revision shown in the header")
    ap.add_argument("--generated", default=None,
                    help="date shown in the header (default: now, UTC)")
    ap.add_argument("json", nargs="*", help="gtest JSON result files")
    a = ap.parse_args(argv)
    sources = list(a.json)
    if a.from_json:
        if not os.path.isdir(a.from_json):
            print("redteam_report: not a directory: %s" % a.from_json, file=sys.stderr)
            return 2
        sources += sorted(glob.glob(os.path.join(a.from_json, "*.json")))
    if not sources:
        print("redteam_report: no JSON result files given", file=sys.stderr)
        return 2
    generated = a.generated or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    scenarios = load_results(sources)
    page = render(scenarios, a.revision, generated, sources)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, a.out)
    totals = {k: sum(1 for s in scenarios if s.status == k) for k in STATUSES}
    print("redteam_report: %s: %d scenarios (%d passed, %d failed, %d skipped)"
          % (a.out, len(scenarios), totals["passed"], totals["failed"], totals["skipped"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
