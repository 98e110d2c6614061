"""The one HTTP client: timeouts, the only retry layer (honouring Retry-After), errors mapped
to ours. ``retries=N`` sends at most N+1 requests, and a final error says how many were sent.

Requests go over aiohttp behind the httpx API (``httpx-aiohttp``): httpcore's own pool costs
several times the CPU per request (bench/batch.py), and the httpx API keeps one seam for tests
(``transport=httpx.MockTransport(...)``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from .errors import (
    AuthError,
    BadResponse,
    ConnectionRefused,
    NetworkError,
    ProviderError,
    RateLimitError,
    ServerError,
)

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529}
MAX_RETRY_WAIT = 60.0
_KEY_LIKE = re.compile(r"(sk-[A-Za-z0-9_*-]{6,}|AIza[0-9A-Za-z_-]{10,}|Bearer\s+\S+)")
SECRET_VARS: set[str] = set()  # the providers' key variables (their specs add them)


def redact(text: str) -> str:
    """Remove API keys (from the environment, or anything shaped like one) from ``text``."""
    for var in SECRET_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 8:
            text = text.replace(value, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)


class Limiter(Protocol):
    """Rate limiter the batch runner plugs in: waits before a request, learns from replies."""

    async def wait(self) -> None: ...

    def observe(self, response: httpx.Response) -> None: ...


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int, headers: Mapping[str, str] | None = None) -> float:
    """The wait before retry number ``attempt`` (0-based): the server's word, else exponential."""
    told = retry_after(headers or {})
    if told is not None:
        return min(told, MAX_RETRY_WAIT)
    return min(0.5 * 2**attempt, 20.0) * (0.75 + random.random() / 2)


def api_message(response: httpx.Response) -> str:
    """The error message an API put in its body, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        return str(err.get("message") or err.get("detail") or err)[:300]
    if isinstance(body, list) and body and isinstance(body[0], dict):  # Gemini wraps in a list
        return api_message_from(body[0])
    return str(err)[:300]


def api_message_from(body: dict[str, Any]) -> str:
    err = body.get("error", body)
    return str(err.get("message", err) if isinstance(err, dict) else err)[:300]


class Http:
    """An async httpx client with retries; ``transport`` is the seam tests use."""

    def __init__(self, *, timeout: float = 120.0, retries: int = 3,
                 transport: httpx.AsyncBaseTransport | None = None,
                 limiter: Limiter | None = None, max_connections: int = 100) -> None:
        self.retries = retries
        self.limiter = limiter
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            transport=transport or Transport(limits=limits),
            limits=limits,
            follow_redirects=False,  # a redirect would carry the API key to another host
        )

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(self, method: str, url: str, *, provider: str,
                      hints: Mapping[int, str] | None = None, json_body: bool = False,
                      **kwargs: Any) -> httpx.Response:
        """Send with retries; return a 2xx response or raise the mapped ProviderError. With
        ``json_body``, a 2xx whose body is not JSON (a proxy's error page) is retried too."""
        async with self._open(method, url, provider, hints, stream=False, json_body=json_body,
                              **kwargs) as r:
            return r

    async def post_json(self, url: str, body: dict[str, Any], *, provider: str,
                        headers: Mapping[str, str], hints: Mapping[int, str] | None = None,
                        ) -> dict[str, Any]:
        r = await self.request("POST", url, provider=provider, hints=hints, json=body,
                               headers=headers, json_body=True)
        return parse_json(r, provider)

    async def stream_sse(self, url: str, body: dict[str, Any], *, provider: str,
                         headers: Mapping[str, str], hints: Mapping[int, str] | None = None,
                         ) -> AsyncIterator[dict[str, Any]]:
        """POST and yield each server-sent event's JSON data (``[DONE]`` ends the stream)."""
        async with self._open("POST", url, provider, hints, stream=True, json=body,
                              headers=headers) as r:
            if "json" in r.headers.get("content-type", "") and \
                    "event-stream" not in r.headers.get("content-type", ""):
                await r.aread()  # some compatible servers answer a stream request in one body
                yield parse_json(r, provider)
                return
            try:
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        yield json.loads(data)
                    except ValueError:
                        raise BadResponse(f"{provider}: the stream sent invalid JSON: "
                                          f"{redact(data[:120])!r}", provider=provider) from None
            except httpx.HTTPError as e:
                raise NetworkError(f"{provider}: the stream broke off ({type(e).__name__}). "
                                   "Try again.", provider=provider) from None

    def _open(self, method: str, url: str, provider: str, hints: Mapping[int, str] | None,
              *, stream: bool, json_body: bool = False, **kwargs: Any) -> _Attempts:
        return _Attempts(self, method, url, provider, hints or {}, stream, json_body, kwargs)


class Transport(AiohttpTransport):
    """httpx-aiohttp's transport, its errors mapped as httpx's own transport maps them (its
    table calls a refused connection a timeout, which would hide a server that is down)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _mapped():
            response = await super().handle_async_request(request)
        response.stream = _Body(response.stream)  # type: ignore[arg-type]
        return response


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self.stream:
                yield chunk

    async def aclose(self) -> None:
        with _mapped():
            await self.stream.aclose()


# aiohttp's errors, most specific first, and the httpx error each is.
_AIOHTTP_ERRORS: list[tuple[type[BaseException], type[httpx.TransportError]]] = [
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS
    (TimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not HTTP
    (aiohttp.ClientError, httpx.ReadError),
]


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except (TimeoutError, httpx.TransportError, aiohttp.ClientError) as e:
        cause = e.__cause__ if isinstance(e, httpx.TransportError) else e
        kind = next((ours for theirs, ours in _AIOHTTP_ERRORS if isinstance(cause, theirs)),
                    None)
        if kind is None:
            raise
        raise kind(str(cause) or type(cause).__name__) from cause


class _Attempts:
    """Async context manager: the first good response after retries, closed on exit."""

    def __init__(self, http: Http, method: str, url: str, provider: str,
                 hints: Mapping[int, str], stream: bool, json_body: bool,
                 kwargs: dict[str, Any]) -> None:
        self.http, self.method, self.url, self.provider = http, method, url, provider
        self.hints, self.stream, self.json_body, self.kwargs = hints, stream, json_body, kwargs
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        http = self.http
        for attempt in range(http.retries + 1):
            last = attempt == http.retries
            if http.limiter:
                await http.limiter.wait()
            try:
                req = http.client.build_request(self.method, self.url, **self.kwargs)
                r = await http.client.send(req, stream=self.stream)
            except httpx.TimeoutException:
                if last:
                    raise NetworkError(
                        f"{self.provider}: no answer from {_host(self.url)} in time "
                        f"{_sent(attempt + 1)}. Try again, raise the timeout, or check the "
                        "server.", provider=self.provider) from None
                await asyncio.sleep(backoff(attempt))
                continue
            except httpx.HTTPError as e:
                if last:
                    kind = ConnectionRefused if isinstance(e, httpx.ConnectError) \
                        else NetworkError
                    raise kind(
                        f"{self.provider}: cannot reach {_host(self.url)} "
                        f"({type(e).__name__}, {_sent(attempt + 1)}). Check the base URL and "
                        "that the server runs.", provider=self.provider) from None
                await asyncio.sleep(backoff(attempt))
                continue
            if http.limiter:
                http.limiter.observe(r)
            if 300 <= r.status_code < 400:
                await r.aclose()
                where = r.headers.get("location")
                where = str(r.url.join(where)) if where else "nowhere"
                raise ProviderError(
                    f"{self.provider}: {_host(self.url)} answered HTTP {r.status_code}, "
                    f"redirecting to {redact(where)}; API calls never follow redirects (the "
                    "API key would go with them). If you trust that address, pass it as "
                    "base_url=.", provider=self.provider, status=r.status_code)
            good = r.status_code < 400
            if good and (last or not self.json_body or _is_json(r)):
                self.response = r
                return r
            if self.stream:
                await r.aread()
            await r.aclose()
            if (good or r.status_code in RETRY_STATUSES) and not last:  # good: a proxy's page
                await asyncio.sleep(backoff(attempt, r.headers))
                continue
            raise map_status(r, self.provider, self.hints, attempt + 1)
        raise AssertionError("unreachable")

    async def __aexit__(self, *exc: object) -> None:
        if self.response is not None:
            await self.response.aclose()


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def _is_json(r: httpx.Response) -> bool:
    try:
        r.json()
    except ValueError:
        return False
    return True


def _sent(requests: int) -> str:
    return f"after {requests} request{'s' if requests > 1 else ''}"


def map_status(r: httpx.Response, provider: str, hints: Mapping[int, str],
               requests: int) -> ProviderError:
    """The pixelproof error for an HTTP error status, with the API's message and a fix."""
    status = r.status_code
    said = redact(api_message(r))
    hint = hints.get(status, "")
    base = f"{provider}: HTTP {status}" + (f" ({said})" if said else "")
    if status in (401, 403):
        return AuthError(f"{base}. {hint or 'Check your API key and its access.'}",
                         provider=provider, status=status)
    if status == 429:
        return RateLimitError(f"{base} {_sent(requests)}. Lower the concurrency or requests "
                              "per minute, or check your quota.", provider=provider,
                              status=status)
    if status >= 500:
        return ServerError(f"{base} {_sent(requests)}. The server failed; try again later.",
                           provider=provider, status=status)
    return ProviderError(f"{base}. {hint or 'Check the request options.'}",
                         provider=provider, status=status)


def parse_json(r: httpx.Response, provider: str) -> dict[str, Any]:
    try:
        data = r.json()
    except ValueError:
        raise BadResponse(f"{provider}: the server answered HTTP {r.status_code} with something "
                          f"that is not JSON: {redact(r.text[:120])!r}. Check the base URL points "
                          "at the API.", provider=provider, status=r.status_code) from None
    if not isinstance(data, dict):
        raise BadResponse(f"{provider}: expected a JSON object, got {type(data).__name__}.",
                          provider=provider, status=r.status_code)
    return data
