"""pixelproof: get data out of images with vision models, and check every value against the
pixels."""

from .batch import batch
from .errors import PixelproofError
from .extract import ExtractResult, adescribe, aextract, describe, extract
from .types import Extraction, Image, Request, Response, Usage
from .verify import Report, draw_overlay, verify, vote

__all__ = ["ExtractResult", "Extraction", "Image", "PixelproofError", "Report", "Request",
           "Response", "Usage", "adescribe", "aextract", "batch", "describe", "draw_overlay",
           "extract", "verify", "vote"]
