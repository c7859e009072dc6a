"""WCAG 2.1's reflow (1.4.10) at a 320 px phone's width: what the page tests check on every public page.

A table wider than the screen may scroll, but within its own region, which the keyboard can reach
(partials/table_scroll.html); the page itself never gets wider than the screen.
"""

NARROW = 320

# What overflows the screen outside a .table-scroll region (a Leaflet map clips its own panes), and every
# table wider than its box that is not in a named, focusable region.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > width + 0.5 && !el.closest('.table-scroll, .leaflet-container'))
    .map(name);
  const unreachable = [...document.querySelectorAll('table')]
    .filter(table => table.getBoundingClientRect().width > table.parentElement.clientWidth + 0.5)
    .filter(table => { const box = table.closest('.table-scroll');
      return !box || box.getAttribute('role') !== 'region' || box.tabIndex !== 0
        || !document.getElementById(box.getAttribute('aria-labelledby')); })
    .map(name);
  return {width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5), unreachable};
}"""


def reflow_problems(page) -> dict:
    """What makes the page as it is now scroll sideways at its width, or a wide table the keyboard
    cannot reach; {} when there is nothing."""
    result = page.evaluate(OVERFLOW)
    return result if result["scrollWidth"] > result["width"] or result["unreachable"] else {}
