#!/usr/bin/env python3
"""ctest check of scripts/redteam_report.py (label redteam), so the report cannot rot.

Usage: check_report.py RENDERER TESTDATA_DIR OUT.html

Renders the fixed sample in TESTDATA_DIR (tests/redteam/testdata/report: one gtest JSON file
with a passed, a failed, a skipped and an unannotated test, hostile strings in every field, and
one truncated JSON file) both ways (--from-json DIR and explicit files), then checks that the
page is well-formed (every element closed in order, python's html.parser), self-contained (no
script, no external reference), carries the totals, the chart and every scenario, and that
every hostile string from the test output arrived as text, never as markup.
"""

import html.parser
import os
import subprocess
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# Elements the renderer may emit; anything else came from unescaped test output.
ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "div", "code", "svg",
           "rect", "text", "title", "p", "table", "colgroup", "col", "thead", "tbody", "tr", "th",
           "td", "span", "details", "summary", "pre", "strong", "footer"}


class Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.tags = set()
        self.text = []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag not in ALLOWED:
            self.errors.append("unexpected element <%s> at %s" % (tag, self.getpos()))
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name.startswith("on"):
                self.errors.append("event handler attribute %s at %s" % (name, self.getpos()))
            if name in ("src", "href") or v.startswith(("http:", "https:", "//", "javascript:")):
                if name != "xmlns":
                    self.errors.append("external reference %s=%r at %s" % (name, value, self.getpos()))
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        if tag not in ALLOWED:
            self.errors.append("unexpected element <%s/> at %s" % (tag, self.getpos()))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack:
            self.errors.append("</%s> with nothing open at %s" % (tag, self.getpos()))
            return
        open_tag, where = self.stack.pop()
        if open_tag != tag:
            self.errors.append("</%s> at %s closes <%s> opened at %s"
                               % (tag, self.getpos(), open_tag, where))

    def handle_data(self, data):
        self.text.append(data)


def check(page, label):
    problems = []
    p = Checker()
    p.feed(page)
    p.close()
    problems += ["%s: %s" % (label, e) for e in p.errors]
    if p.stack:
        problems.append("%s: unclosed elements %s" % (label, p.stack))
    if not p.doctype:
        problems.append("%s: no <!DOCTYPE html>" % label)
    for tag in ("html", "head", "body", "style", "svg", "table", "details"):
        if tag not in p.tags:
            problems.append("%s: no <%s>" % (label, tag))
    text = "".join(p.text)
    for needle in [
        # Every scenario, with its category, and the binary it came from.
        "Authn_SampleForgedSignature", "Transport_SampleSmugglingFails", "Audit_SampleKnownDefect",
        "SampleWithoutScenarioProperties", "sample_redteam_test", "uncategorised",
        # The truncated file is a failed entry, not a crash of the renderer.
        "(unreadable result file)", "truncated_redteam_test",
        # Hostile strings arrive as text.
        "<script>alert('x')</script>", "<img src=x onerror=alert(1)>", "</pre><b>not bold</b>",
        "<b>bell</b>", "\\x07",
        # Audit summary: event type and reason of each record.
        "telemetry.rejected: bad_signature; telemetry.rejected: replay",
        "Known defect:", "Results by category", "revision-under-test",
    ]:
        if needle not in text:
            problems.append("%s: text %r missing" % (label, needle))
    # Totals: 1 passed sample + 1 unannotated = 2 passed; 1 failed + the unreadable file = 2
    # failed; 1 skipped.
    for n, what in ((2, "passed"), (2, "failed"), (1, "skipped")):
        tile = '<div class="tile %s"><div class="n">%d</div>' % (what, n)
        if tile not in page:
            problems.append("%s: totals tile %r missing" % (label, tile))
    if "<script" in page.lower():
        problems.append("%s: a <script appears unescaped" % label)
    if "\x07" in page:
        problems.append("%s: raw control character in the page" % label)
    return problems


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    renderer, data, out = argv
    files = sorted(os.path.join(data, f) for f in os.listdir(data) if f.endswith(".json"))
    problems = []
    runs = {
        "--from-json": ["--from-json", data],
        "files": files,
    }
    for label, args in runs.items():
        target = out + "." + label.strip("-").replace("-", "_") + ".html"
        cmd = [sys.executable, renderer, "--out", target, "--revision", "revision-under-test",
               "--generated", "2026-01-01 00:00:00 UTC"] + args
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            problems.append("%s: renderer exit %d: %s%s" % (label, r.returncode, r.stdout, r.stderr))
            continue
        with open(target, encoding="utf-8") as f:
            problems += check(f.read(), label)
    # No input at all is a usage error, not an empty page.
    r = subprocess.run([sys.executable, renderer, "--out", out + ".empty.html"],
                       capture_output=True, text=True)
    if r.returncode != 2:
        problems.append("no input: expected exit 2, got %d" % r.returncode)
    for p in problems:
        print("FAIL " + p)
    if not problems:
        print("ok: report well-formed, self-contained, escaped, complete (%d runs)" % len(runs))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
