"""pixelproof: get data out of images with vision models, and check every value against the pixels."""

from .errors import PixelproofError
from .extract import adescribe, describe
from .types import Image, Request, Response, Usage

__all__ = ["Image", "PixelproofError", "Request", "Response", "Usage", "adescribe", "describe"]
