"""Layout checks run in the page by Playwright (its own isolated world, so they work with
the page's JavaScript switched off): overlapping boxes, and which side things start on."""
from __future__ import annotations

OVERLAPS_JS = """
(selector) => {
  const tags = 'a,button,input,select,textarea,label,h1,h2,h3,p,li,dt,dd,legend,summary,strong,code,bdi,blockquote,img';
  const root = document.querySelector(selector) || document.body;
  const boxes = [];
  for (const el of root.querySelectorAll(tags)) {
    if (el.closest('.skip-link, .visually-hidden')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (el.closest('details:not([open])') && el.tagName !== 'SUMMARY') continue;
    for (const r of el.getClientRects()) {
      if (r.width < 2 || r.height < 2) continue;
      boxes.push({el, r});
    }
  }
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
      ' "' + (el.textContent || el.value || '').trim().slice(0, 40) + '"';
  const problems = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
      // A label and its own control sit side by side by design; still checked below.
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w > 3 && h > 3) problems.push(describe(a.el) + ' overlaps ' + describe(b.el));
    }
  }
  return problems.slice(0, 20);
}
"""

DIRECTION_JS = """
(selector) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  const parent = el.parentElement.getBoundingClientRect();
  return {direction: getComputedStyle(el).direction, left: r.left, right: r.right,
          parentLeft: parent.left, parentRight: parent.right, textAlign: getComputedStyle(el).textAlign};
}
"""


def overlaps(page, selector: str = "body") -> list[str]:
    return page.evaluate(OVERLAPS_JS, selector)


def box(page, selector: str) -> dict | None:
    return page.evaluate(DIRECTION_JS, selector)


def starts_on_the_right(page, selector: str) -> bool:
    """The element hugs the right edge of its container (where RTL text starts)."""
    b = box(page, selector)
    assert b is not None, f"{selector} not on the page"
    return abs(b["right"] - b["parentRight"]) <= 2 and b["left"] - b["parentLeft"] >= -2


def text_right_aligned(page, selector: str) -> bool:
    """The element's text starts on the right: its direction is rtl and its inline content
    ends near the right edge (measured on its first text line)."""
    return page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const range = document.createRange();
            range.selectNodeContents(el);
            const first = range.getClientRects()[0];
            const r = el.getBoundingClientRect();
            return getComputedStyle(el).direction === 'rtl' && Math.abs(first.right - r.right) < 4;
        }""",
        selector,
    )
