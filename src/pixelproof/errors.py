"""Every error pixelproof raises. Each message says what failed and what to do.

    PixelproofError
    ├── InputError              an image could not be read (names the input)
    │   ├── UnsupportedImage    not an image format we can send
    │   └── ImageTooLarge       over the pixel or byte guard
    ├── ConfigError             missing API key, unknown provider or model, bad option
    ├── ProviderError           the model's API failed (carries provider and status)
    │   ├── AuthError           401/403: key missing, wrong or without access
    │   ├── RateLimitError      429 on every request sent
    │   ├── ServerError         5xx on every request sent
    │   ├── NetworkError        no answer in time, or the connection broke
    │   │   └── ConnectionRefused   the server took no connection (down, wrong address)
    │   └── BadResponse         the reply was not what the API documents
    ├── ExtractionError         the answer did not parse or fit the schema after all attempts
    │   ├── TruncatedError      the answer was cut off (finish_reason "length")
    │   └── RefusalError        the model refused
    ├── BudgetError             the estimate or spend would pass --max-cost
    ├── StoreError              the SQLite cache or run store failed
    └── OcrError                the local OCR engine failed on a page (its worker crashed twice)

Foreign errors (httpx, PIL, sqlite3) are mapped at the boundary with ``raise ... from``.
"""

from __future__ import annotations


class PixelproofError(Exception):
    """Base of every pixelproof error."""


class InputError(PixelproofError):
    """An input image could not be loaded."""

    def __init__(self, source: str, problem: str, fix: str = "") -> None:
        self.source = source
        msg = f"{source}: {problem}"
        super().__init__(f"{msg}. {fix}" if fix else msg)


class UnsupportedImage(InputError):
    pass


class ImageTooLarge(InputError):
    pass


class ConfigError(PixelproofError):
    pass


class ProviderError(PixelproofError):
    """The model's API failed."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        self.provider = provider
        self.status = status
        super().__init__(message)


class AuthError(ProviderError):
    pass


class RateLimitError(ProviderError):
    pass


class ServerError(ProviderError):
    pass


class NetworkError(ProviderError):
    pass


class ConnectionRefused(NetworkError):
    """The server took no connection: a run waits for it (a shared outage pause)."""


class BadResponse(ProviderError):
    pass


class ExtractionError(PixelproofError):
    """The answer could not be turned into the requested data."""

    def __init__(self, message: str, *, attempts: int = 1, last_text: str = "") -> None:
        self.attempts = attempts
        self.last_text = last_text
        super().__init__(message)


class TruncatedError(ExtractionError):
    pass


class RefusalError(ExtractionError):
    pass


class BudgetError(PixelproofError):
    pass


class StoreError(PixelproofError):
    pass


class OcrError(PixelproofError):
    """The local OCR engine could not read a page."""
