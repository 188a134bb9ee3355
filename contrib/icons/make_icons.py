"""Draw cardcrm's app icons (the board: three columns of cards) as PNG files, without Pillow.

Run once after changing the drawing; the PNGs it writes are committed in the web UI's static
folder:  python contrib/icons/make_icons.py
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "services" / "core" / "web" / "static" / "icons"
ACCENT = (0x1F, 0x5F, 0xBF)
CARD = (0xFF, 0xFF, 0xFF)
#: The board drawn in a unit square: (left, top, right, bottom) of each card.
CARDS = [
    (0.22, 0.24, 0.38, 0.44),
    (0.22, 0.48, 0.38, 0.62),
    (0.42, 0.24, 0.58, 0.54),
    (0.42, 0.58, 0.58, 0.76),
    (0.62, 0.24, 0.78, 0.36),
]


def rounded_box(x: float, y: float, box: tuple[float, float, float, float], radius: float) -> float:
    """Signed distance from (x, y) to a rounded rectangle (negative inside)."""
    left, top, right, bottom = box
    half_width, half_height = (right - left) / 2, (bottom - top) / 2
    qx = abs(x - (left + right) / 2) - half_width + radius
    qy = abs(y - (top + bottom) / 2) - half_height + radius
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - radius


def coverage(distance_in_pixels: float) -> float:
    return min(1.0, max(0.0, 0.5 - distance_in_pixels))


def draw(size: int, *, full_bleed: bool, content_scale: float) -> bytes:
    """RGBA rows of the icon; ``content_scale`` shrinks the board towards the centre (maskable
    icons keep their content inside the middle 80%)."""
    rows = []
    corner = 0.0 if full_bleed else 0.22
    for row in range(size):
        line = bytearray([0])  # PNG filter: none
        y = (row + 0.5) / size
        for column in range(size):
            x = (column + 0.5) / size
            edge = rounded_box(x, y, (0, 0, 1, 1), corner) * size
            ground = 1.0 if full_bleed else coverage(edge)
            # The board, scaled about the centre.
            bx = 0.5 + (x - 0.5) / content_scale
            by = 0.5 + (y - 0.5) / content_scale
            card = 0.0
            for box in CARDS:
                distance = rounded_box(bx, by, box, 0.03) * size * content_scale
                card = max(card, coverage(distance))
            red, green, blue = (
                round(ACCENT[index] * (1 - card) + CARD[index] * card) for index in range(3)
            )
            line += bytes((red, green, blue, round(255 * ground)))
        rows.append(bytes(line))
    return b"".join(rows)


def png(size: int, pixels: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    icons = {
        "icon-192.png": (192, False, 1.0),
        "icon-512.png": (512, False, 1.0),
        # Android crops maskable icons to a circle or squircle: keep the board well inside.
        "icon-maskable-512.png": (512, True, 0.8),
        # iOS rounds the corners itself and shows transparency as black: a full square.
        "apple-touch-icon.png": (180, True, 0.9),
    }
    for name, (size, full_bleed, scale) in icons.items():
        pixels = draw(size, full_bleed=full_bleed, content_scale=scale)
        (STATIC / name).write_bytes(png(size, pixels))
        print(STATIC / name)


if __name__ == "__main__":
    main()
