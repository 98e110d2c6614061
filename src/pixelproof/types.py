"""Values passed between pixelproof's parts: frozen dataclasses, no I/O."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Detail = Literal["low", "high", "auto"]


@dataclass(frozen=True)
class Image:
    """One image as it will be sent: bytes, type, size, where it came from.

    ``url`` is kept when the user gave a public http(s) URL, so providers that accept
    URLs can pass it through untouched; ``data`` always holds the downloaded bytes.
    """

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    source: str
    sha256: str
    page: int | None = None
    url: str | None = None
    # A PDF page's text layer (textlayer.py): its words and their boxes in these pixels, read
    # instead of OCR; None for scans and other images.
    words: tuple[tuple[str, tuple[float, float, float, float]], ...] | None = field(
        default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        """The source as a user names it: ``scan.pdf#page=3`` for a PDF page."""
        return f"{self.source}#page={self.page}" if self.page else self.source

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{self.base64}"


@dataclass(frozen=True)
class Turn:
    """A later message in the conversation, as used by the re-ask loop."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class Request:
    """A provider-neutral question about images.

    ``json_schema`` asks for native structured output where the provider has it.
    ``turns`` follow the first user message (the prompt and the images). ``task`` says what
    the answer is for and ``date_order`` how numeric dates are written ("dmy", "mdy", "ymd");
    LLM providers ignore them, the local engine answers by them.
    """

    model: str
    prompt: str
    images: tuple[Image, ...] = ()
    system: str | None = None
    detail: Detail = "auto"
    json_schema: dict[str, Any] | None = None
    schema_name: str = "extraction"
    turns: tuple[Turn, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    task: Literal["describe", "extract"] = "describe"
    date_order: Literal["dmy", "mdy", "ymd"] | None = None  # how the page writes its dates


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
        )

    def summary(self) -> str:
        cached = f" ({self.cached_tokens} cached)" if self.cached_tokens else ""
        return f"{self.input_tokens} in{cached}, {self.output_tokens} out"


@dataclass(frozen=True)
class Response:
    """A model's answer. ``cost`` is None when unknown, never zero for unknown."""

    text: str
    model: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    refusal: str | None = None
    seconds: float = 0.0
    cost: Decimal | None = None
    cached: bool = False
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    verification: Any = field(default=None, compare=False)  # a verify Report of its claims


@dataclass(frozen=True)
class Word:
    """A piece of text the OCR engine read, with its box in original image pixels."""

    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    confidence: float
    line: int = 0  # index of the line it belongs to, in reading order


@dataclass(frozen=True)
class OcrResult:
    """What the OCR engine read from one image: words in reading order, grouped in lines."""

    words: tuple[Word, ...]
    width: int
    height: int
    read: Literal["ocr", "text layer"] = "ocr"  # how: the engine, or a PDF page's text layer

    @property
    def lines(self) -> list[list[Word]]:
        out: dict[int, list[Word]] = {}
        for w in self.words:
            out.setdefault(w.line, []).append(w)
        return [out[k] for k in sorted(out)]

    @property
    def text(self) -> str:
        return "\n".join(" ".join(w.text for w in line) for line in self.lines)


@dataclass(frozen=True)
class Extraction:
    """The data read from one image (one PDF page), or why it failed.

    ``data`` is the validated value: an object, or a list of row objects (Pydantic instances
    when a Pydantic model was given). ``records`` are plain dicts ready for CSV/JSON output.
    """

    source: str
    page: int | None = None
    data: Any = None
    records: tuple[dict[str, Any], ...] = ()
    text: str = ""
    model: str = ""
    usage: Usage = Usage()
    attempts: int = 0
    cost: Decimal | None = None
    cached: bool = False
    error: str | None = None
    verification: Any = None
    saved_tokens: int = 0  # image tokens --detail auto saved against sending full size

    @property
    def label(self) -> str:
        return f"{self.source}#page={self.page}" if self.page else self.source

    @property
    def ok(self) -> bool:
        return self.error is None

    def _repr_html_(self) -> str:  # Jupyter: the image with its boxes, and the values
        from .view import extraction_html
        return extraction_html(self)
