"""pixelproof: get data out of images with vision models, and check every value against the
pixels."""

from .batch import abatch, batch
from .cost import Budget, Estimate
from .errors import (
    AuthError,
    BadResponse,
    BudgetError,
    ConfigError,
    ConnectionRefused,
    ExtractionError,
    ImageTooLarge,
    InputError,
    NetworkError,
    OcrError,
    PixelproofError,
    ProviderError,
    RateLimitError,
    RefusalError,
    ServerError,
    StoreError,
    TruncatedError,
    UnsupportedImage,
)
from .extract import ExtractResult, adescribe, aextract, describe, estimate, extract
from .options import Options
from .types import Extraction, Image, Request, Response, Usage
from .verify import Report, draw_overlay, verify, vote

__all__ = [
    # asking
    "describe", "adescribe", "extract", "aextract", "batch", "abatch", "estimate", "Options",
    # checking
    "verify", "vote", "draw_overlay", "Report",
    # values
    "ExtractResult", "Extraction", "Image", "Request", "Response", "Usage", "Budget",
    "Estimate",
    # errors
    "PixelproofError", "InputError", "UnsupportedImage", "ImageTooLarge", "ConfigError",
    "ProviderError", "AuthError", "RateLimitError", "ServerError", "NetworkError",
    "ConnectionRefused", "BadResponse", "ExtractionError", "TruncatedError", "RefusalError",
    "BudgetError", "StoreError", "OcrError",
]
