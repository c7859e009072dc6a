"""axe-core (WCAG 2.1 A/AA) in Chromium: the one way the page tests audit a page."""
from __future__ import annotations

from pathlib import Path

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js").read_text()
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Only the violations are wanted: axe then keeps one node of each passing, incomplete or inapplicable
# rule instead of every node, which is most of its work on a long page.
_RUN = ("async (context) => (await axe.run(context || document, {runOnly: %s, resultTypes: ['violations']}))"
        ".violations.map(v => ({id: v.id, nodes: v.nodes.slice(0, 3).map(n => n.target)}))" % WCAG_21_AA)


def violations(page, context: str | None = None) -> list[dict]:
    """The page's WCAG 2.1 A/AA violations as it is now, each with up to three of its nodes;
    ``context``: a CSS selector to audit only that part."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE)  # not an inline <script>: the pages' CSP (webmap/security.py) would block it
    return page.evaluate(_RUN, context)
