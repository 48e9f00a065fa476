#!/usr/bin/env python3
"""Render mcpd's splash-page logo (src/web/assets/mcp-logo.png): a 256x256 RGBA PNG of a hub
joined to three nodes on a rounded square, drawn from signed distance fields with one-pixel
anti-aliasing. Standard library only (zlib + struct), so the checked-in PNG can be regenerated
anywhere: python3 scripts/gen-logo.py src/web/assets/mcp-logo.png
"""
import math
import struct
import sys
import zlib

SIZE = 256
CENTER = SIZE / 2
BG_TOP = (15, 23, 42)  # slate-900
BG_BOTTOM = (49, 46, 129)  # indigo-900
# The glyph's bounding box (top node to bottom nodes) is centred, not its hub.
HUB_X, HUB_Y = CENTER, CENTER + 18
WHITE = (248, 250, 252)
ACCENT = (56, 189, 248)  # sky-400


def rounded_square(x, y, half, radius):
    """Distance to a square of half-size `half` with corners of `radius`, centred."""
    qx = abs(x - CENTER) - half + radius
    qy = abs(y - CENTER) - half + radius
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - radius


def segment(x, y, ax, ay, bx, by):
    """Distance to the segment a-b."""
    px, py, dx, dy = x - ax, y - ay, bx - ax, by - ay
    t = max(0.0, min(1.0, (px * dx + py * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - t * dx, py - t * dy)


def coverage(d):
    """Fraction of the pixel inside a shape whose edge is at distance d (in pixels)."""
    return max(0.0, min(1.0, 0.5 - d))


def over(dst, src, a):
    return tuple(s * a + t * (1 - a) for s, t in zip(src, dst))


NODES = [
    (HUB_X + 72 * math.cos(math.radians(a)), HUB_Y + 72 * math.sin(math.radians(a)))
    for a in (-90, 30, 150)
]


def pixel(x, y):
    bg_a = coverage(rounded_square(x, y, 120, 44))
    if bg_a == 0.0:
        return (0, 0, 0, 0)
    t = y / SIZE
    color = tuple(a + (b - a) * t for a, b in zip(BG_TOP, BG_BOTTOM))
    spokes = min(segment(x, y, HUB_X, HUB_Y, nx, ny) for nx, ny in NODES) - 7
    outer = min(math.hypot(x - nx, y - ny) for nx, ny in NODES) - 20
    color = over(color, WHITE, coverage(min(spokes, outer)))
    hub = math.hypot(x - HUB_X, y - HUB_Y)
    color = over(color, WHITE, coverage(hub - 34))
    color = over(color, ACCENT, coverage(hub - 24))
    # The outer nodes are rings: their cores show the background gradient again.
    for nx, ny in NODES:
        core = math.hypot(x - nx, y - ny) - 9
        color = over(color, tuple(a + (b - a) * t for a, b in zip(BG_TOP, BG_BOTTOM)),
                     coverage(core))
    return tuple(round(c) for c in color) + (round(255 * bg_a),)


def png(width, height, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    rows = []
    for py in range(SIZE):
        row = []
        for px in range(SIZE):
            row.extend(pixel(px + 0.5, py + 0.5))
        rows.append(row)
    with open(sys.argv[1], "wb") as f:
        f.write(png(SIZE, SIZE, rows))


if __name__ == "__main__":
    main()
