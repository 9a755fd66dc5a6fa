"""Draw the Teams app icons: ``color.png`` (192×192) and ``outline.png`` (32×32).

The PNGs are committed, so neither the bot nor the tests need Pillow; run this only to change the
design::

    .venv/bin/pip install Pillow
    .venv/bin/python -m appmanifest.make_icons

Design: a calendar page with a tick, i.e. "a meeting that is booked".  Teams' rules:

* colour icon: 192×192, full colour; Teams rounds the corners itself, so the background fills the
  whole square and the symbol keeps well inside it;
* outline icon: 32×32, white (#FFFFFF) on a transparent background, nothing else.

Both are drawn at a larger scale and scaled down, for smooth edges.  The outline icon is drawn as an
alpha mask only and every pixel is then made pure white, so its antialiased edges stay white rather
than turning grey.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent

#: Same colour as the manifest's accentColor.
ACCENT = (0x1B, 0x5E, 0x91)
WHITE = (255, 255, 255)

SUPERSAMPLE = 8


def _calendar_mask(size: int, *, box: tuple[float, float, float, float], stroke: float) -> Image.Image:
    """An "L" mask (255 = ink) of a calendar page with a tick, at ``size``×``size``.

    ``box`` (left, top, right, bottom) and ``stroke`` are in final pixels.
    """
    s = SUPERSAMPLE
    big = size * s
    mask = Image.new("L", (big, big), 0)
    d = ImageDraw.Draw(mask)

    left, top, right, bottom = (v * s for v in box)
    w = stroke * s
    width = right - left
    radius = width * 0.12

    # Page: outlined rounded rectangle.
    d.rounded_rectangle((left, top, right, bottom), radius=radius, outline=255, width=round(w))
    # Header band across the top of the page.
    header_bottom = top + (bottom - top) * 0.27
    d.rounded_rectangle((left, top, right, header_bottom), radius=radius, fill=255)
    d.rectangle((left, header_bottom - radius, right, header_bottom), fill=255)
    # Two binder rings sticking up above the page, each with a thin cut of background either side
    # so that it reads as a ring through the header rather than a bump on it.
    ring_w = w * 1.05
    gap = w * 0.55
    ring_top = top - (bottom - top) * 0.10
    ring_bottom = top + (header_bottom - top) * 0.55
    for cx in (left + width * 0.28, left + width * 0.72):
        d.rectangle((cx - ring_w / 2 - gap, ring_top, cx + ring_w / 2 + gap, ring_bottom), fill=0)
        d.rounded_rectangle(
            (cx - ring_w / 2, ring_top, cx + ring_w / 2, ring_bottom), radius=ring_w / 2, fill=255
        )

    # Tick in the body of the page.
    body_top = header_bottom
    bh = bottom - body_top
    p1 = (left + width * 0.26, body_top + bh * 0.52)
    p2 = (left + width * 0.44, body_top + bh * 0.72)
    p3 = (left + width * 0.75, body_top + bh * 0.28)
    tick_w = round(w * 1.25)
    d.line((p1, p2, p3), fill=255, width=tick_w, joint="curve")
    for px, py in (p1, p3):
        r = tick_w / 2
        d.ellipse((px - r, py - r, px + r, py + r), fill=255)

    return mask.reduce(SUPERSAMPLE)  # box filter: smooth edges, no ringing into the background


def make_color(path: Path) -> None:
    size = 192
    img = Image.new("RGB", (size, size), ACCENT)
    # Symbol within the central ~120 px, leaving room for Teams' rounded corners.
    mask = _calendar_mask(size, box=(40, 50, 152, 156), stroke=9)
    img.paste(Image.new("RGB", (size, size), WHITE), (0, 0), mask)
    img.save(path, format="PNG", optimize=True)


def make_outline(path: Path) -> None:
    size = 32
    mask = _calendar_mask(size, box=(5, 8, 27, 28), stroke=2)
    img = Image.new("RGBA", (size, size), (*WHITE, 0))
    img.putalpha(mask)
    # Fully transparent pixels keep white RGB too: white on transparent, nothing else.
    img.save(path, format="PNG", optimize=True)


def main() -> None:
    make_color(HERE / "color.png")
    make_outline(HERE / "outline.png")
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")


if __name__ == "__main__":
    main()
