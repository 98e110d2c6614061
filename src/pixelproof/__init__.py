"""pixelproof: get data out of images with vision models, and check every value against the
pixels."""

from .errors import PixelproofError
from .extract import ExtractResult, adescribe, aextract, describe, extract
from .types import Extraction, Image, Request, Response, Usage

__all__ = ["ExtractResult", "Extraction", "Image", "PixelproofError", "Request", "Response",
           "Usage", "adescribe", "aextract", "describe", "extract"]
