"""Very thin pages (a text line, a 20000x20 strip): cut up, stacked, read, put back."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from PIL import Image as PILImage

STRIP = 25  # a page whose long side is over this many times its short side is a strip


class Strip(NamedTuple):
    """A very thin page (a text line, a 20000x20 strip) cut into overlapping pieces along its
    long side, stacked with blank gaps into a squarish page (RapidOCR cannot resize extreme
    aspect ratios, and its detector would scale the short side up to hundreds of pixels).
    Each word is kept from the one piece whose own stretch holds its centre."""

    wide: bool  # wider than tall: pieces are stacked top to bottom, else left to right
    short: int
    step: int  # the stretch of the long side each piece owns
    overlap: int  # read on each side beyond it, so a word cut at one edge is whole in a piece
    pieces: int

    @classmethod
    def of(cls, image: PILImage.Image) -> Strip | None:
        short, long = sorted(image.size)
        if long <= STRIP * max(short, 1):
            return None
        gap = max(short, 16)
        count = max(2, round((long / (short + gap)) ** 0.5))
        step = -(-long // count)
        return cls(image.width >= image.height, short, step, min(step, 10 * gap), count)

    @property
    def pitch(self) -> int:  # from one piece to the next on the stacked page
        return self.short + max(self.short, 16)

    def stacked(self, image: PILImage.Image) -> PILImage.Image:
        span = self.step + 2 * self.overlap
        size = (span, self.pieces * self.pitch) if self.wide else (self.pieces * self.pitch, span)
        page = PILImage.new("RGB", size, "white")
        for n in range(self.pieces):
            lo = max(0, n * self.step - self.overlap)
            hi = n * self.step + self.step + self.overlap
            if self.wide:
                piece = image.crop((lo, 0, min(hi, image.width), image.height))
                page.paste(piece, (lo - n * self.step + self.overlap, n * self.pitch))
            else:
                piece = image.crop((0, lo, image.width, min(hi, image.height)))
                page.paste(piece, (n * self.pitch, lo - n * self.step + self.overlap))
        return page

    def _back(self, quad: Any) -> tuple[list[list[float]], float, int]:
        """A quad on the stacked page in the strip's pixels, its centre along the long side
        and the piece it was read in."""
        pts = [(float(x), float(y)) for x, y in quad]
        cx, cy = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
        along_c, across_c = (cx, cy) if self.wide else (cy, cx)
        n = min(self.pieces - 1, max(0, int(across_c // self.pitch)))
        shift = n * self.step - self.overlap
        moved = [[x + shift, y - n * self.pitch] if self.wide else [x - n * self.pitch, y + shift]
                 for x, y in pts]
        return moved, along_c + shift, n

    def unstacked(self, out: Any) -> Any:
        """RapidOCR's output on the stacked page, in the strip's pixels, each word once."""
        from types import SimpleNamespace

        if out.boxes is None or not len(out.boxes):
            return out
        boxes = np.asarray([self._back(q)[0] for q in out.boxes], dtype=np.float64)
        segments = []
        for segment in out.word_results or ():
            kept = []
            for text, score, quad in segment:
                if quad is None:
                    continue
                moved, centre, n = self._back(quad)
                if n * self.step <= centre < (n + 1) * self.step:
                    kept.append((text, score, moved))
            segments.append(tuple(kept))
        return SimpleNamespace(boxes=boxes, word_results=tuple(segments))
