"""Wire formats: the bodies we send, the replies we read, the errors we map."""

import asyncio
import json
from functools import cache
from pathlib import Path

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pixelproof import providers
from pixelproof.errors import (
    AuthError,
    BadResponse,
    ConfigError,
    NetworkError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from pixelproof.http import Http, backoff, redact, retry_after
from pixelproof.images import load
from pixelproof.providers import anthropic, gemini, openai
from pixelproof.types import Request, Turn, Usage

# The parts of the OpenAI OpenAPI document (MIT) that the tests validate against: data/README.md
SPEC = Path(__file__).parent / "data" / "openai-openapi-subset.json"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


@cache
def openai_validator(name: str) -> jsonschema.Draft202012Validator:
    doc = json.loads(SPEC.read_text())
    registry = Registry().with_resource("urn:openai", Resource.from_contents(
        doc, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"},
                                           registry=registry)


def assert_valid_openai(body: dict) -> None:
    errors = list(openai_validator("CreateChatCompletionRequest").iter_errors(body))
    assert not errors, [e.message for e in errors]


@pytest.fixture
def image():
    [im] = load(PNG)
    return im


def target(model_id="openai:gpt-4o-mini", base_url=None, key="test-key"):
    t = providers.resolve(model_id, base_url)
    return providers.Target(t.provider, t.model, t.base_url, key)


def test_openai_body_validates_against_official_schema(image):
    req = Request(model="openai:gpt-4o-mini", prompt="What is this?", images=(image, image),
                  system="Be brief.", detail="low", max_tokens=50, temperature=0.0)
    body = openai.body(req, target())
    assert_valid_openai(body)
    part = body["messages"][1]["content"][1]
    assert part == {"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + image.base64, "detail": "low"}}
    assert body["max_completion_tokens"] == 50
    assert_valid_openai(openai.body(req, target(), stream=True))


def test_openai_structured_output_validates(image):
    schema = {"type": "object", "properties": {"total": {"type": "number"}},
              "required": ["total"], "additionalProperties": False}
    req = Request(model="m", prompt="p", images=(image,), json_schema=schema,
                  turns=(Turn("assistant", "{"), Turn("user", "fix it")))
    body = openai.body(req, target())
    assert_valid_openai(body)
    assert body["response_format"]["json_schema"]["strict"] is True
    loose = openai.body(Request(model="m", prompt="p", json_schema={"type": "object"}), target())
    assert loose["response_format"]["json_schema"]["strict"] is False


def test_openai_url_passthrough_only_where_fetched(image):
    from dataclasses import replace
    im = replace(image, url="https://example.test/a.png")
    official = openai.image_part(im, "auto", target())
    assert official["image_url"]["url"] == "https://example.test/a.png"
    local = openai.image_part(im, "auto", target("ollama:llava"))
    assert local["image_url"]["url"].startswith("data:image/png;base64,")


def test_openai_parse_reply():
    data = {"model": "gpt-4o-mini-2024", "choices": [{"finish_reason": "stop", "message": {
        "content": "A cat.", "refusal": None}}], "usage": {
        "prompt_tokens": 300, "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 128}}}
    r = openai.parse(data, target())
    assert (r.text, r.model, r.finish_reason) == ("A cat.", "gpt-4o-mini-2024", "stop")
    assert r.usage == Usage(300, 5, 128)
    with pytest.raises(BadResponse, match="choices"):
        openai.parse({"hello": 1}, target())


def test_anthropic_body_and_reply(image):
    req = Request(model="anthropic:claude-haiku-4-5", prompt="What?", images=(image,),
                  system="sys", json_schema={"type": "array", "items": {"type": "string"}})
    body = anthropic.body(req, target("anthropic:claude-haiku-4-5"))
    content = body["messages"][0]["content"]
    assert content[0] == {"type": "image", "source": {"type": "base64",
                                                      "media_type": "image/png",
                                                      "data": image.base64}}
    assert content[1] == {"type": "text", "text": "What?"}
    assert body["system"] == "sys" and body["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS
    tool = body["tools"][0]
    assert tool["input_schema"]["type"] == "object"
    assert body["tool_choice"] == {"type": "tool", "name": tool["name"]}
    reply = {"model": "claude", "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "t", "name": tool["name"], "input": {"result": ["a", "b"]}}],
        "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 5}}
    r = anthropic.parse(reply, target("anthropic:claude-haiku-4-5"), req)
    assert json.loads(r.text) == ["a", "b"] and r.usage == Usage(15, 3, 5)
    cut = {"content": [{"type": "text", "text": "abc"}], "stop_reason": "max_tokens"}
    assert anthropic.parse(cut, target("anthropic:x")).finish_reason == "length"


def test_gemini_body_and_reply(image):
    schema = {"type": "object", "properties": {"when": {"type": ["string", "null"],
                                                        "format": "date"},
                                               "items": {"$ref": "#/$defs/Item"}},
              "additionalProperties": False, "$defs": {"Item": {"type": "integer"}}}
    req = Request(model="gemini:gemini-2.5-flash", prompt="What?", images=(image,),
                  system="sys", json_schema=schema, turns=(Turn("assistant", "x"),))
    body = gemini.body(req, target("gemini:gemini-2.5-flash"))
    assert body["contents"][0]["parts"][0] == {"inline_data": {"mime_type": "image/png",
                                                               "data": image.base64}}
    assert body["contents"][1]["role"] == "model"
    assert body["systemInstruction"] == {"parts": [{"text": "sys"}]}
    rs = body["generationConfig"]["responseSchema"]
    assert rs == {"type": "OBJECT", "properties": {
        "when": {"type": "STRING", "format": "date", "nullable": True},
        "items": {"type": "INTEGER"}}}
    reply = {"candidates": [{"content": {"parts": [{"text": "{\"a\":"}, {"text": "1}"}]},
                             "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 260, "candidatesTokenCount": 4,
                               "thoughtsTokenCount": 6}, "modelVersion": "gemini-2.5-flash"}
    r = gemini.parse(reply, target("gemini:gemini-2.5-flash"))
    assert r.text == '{"a":1}' and r.usage == Usage(260, 10, 0) and r.finish_reason == "stop"
    blocked = gemini.parse({"promptFeedback": {"blockReason": "SAFETY"}}, target("gemini:x"))
    assert blocked.finish_reason == "refusal"


# --- model ids and keys ------------------------------------------------------------------

def test_resolve_model_ids(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert providers.resolve("ollama:llava").base_url == "http://localhost:11434/v1"
    assert providers.resolve("gpt-4o").provider == "openai"
    assert providers.resolve("local").provider == "local"
    assert providers.resolve("openai:m", "http://h:1/v1/").base_url == "http://h:1/v1"
    with pytest.raises(ConfigError, match="Did you mean 'openai:gpt-4o'"):
        providers.resolve("opnai:gpt-4o")


def test_missing_key_names_the_variable(monkeypatch):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="Set OPENAI_API_KEY"):
        providers.api_key(providers.resolve("openai:gpt-4o"))
    with pytest.raises(ConfigError, match="Set GEMINI_API_KEY or GOOGLE_API_KEY"):
        providers.api_key(providers.resolve("gemini:gemini-2.5-flash"))
    assert providers.api_key(providers.resolve("ollama:llava")) is None
    assert providers.default_model() == "local"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    assert providers.default_model().startswith("anthropic:")


def test_unknown_model_suggests_closest():
    t = providers.resolve("openai:gpt-4o-mni")
    assert "Did you mean 'openai:gpt-4o-mini'" in providers.suggest(t)


# --- HTTP: retries, Retry-After, error mapping -------------------------------------------

def run(coro):
    return asyncio.run(coro)


def replying(*replies):
    seen = []

    def handler(request):
        seen.append(request)
        status, body, headers = replies[min(len(seen) - 1, len(replies) - 1)]
        if isinstance(status, Exception):
            raise status
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers)
    return httpx.MockTransport(handler), seen


async def post(transport, retries=2):
    async with Http(transport=transport, retries=retries) as http:
        return await http.post_json("https://api.test/v1/x", {}, provider="openai",
                                    headers={"Authorization": "Bearer sk-secretsecretsecret"},
                                    hints={401: "Check OPENAI_API_KEY."})


def test_retries_429_then_succeeds(monkeypatch):
    waits = []

    def fake_backoff(attempt, headers=None):
        waits.append(backoff(attempt, headers))
        return 0
    monkeypatch.setattr("pixelproof.http.backoff", fake_backoff)
    transport, seen = replying((429, {"error": {"message": "slow down"}},
                                {"Retry-After": "3"}), (200, {"ok": 1}, {}))
    assert run(post(transport)) == {"ok": 1}
    assert len(seen) == 2 and waits == [3.0]


@pytest.mark.parametrize("status,error,text", [
    (401, AuthError, "HTTP 401 .*Check OPENAI_API_KEY"),
    (429, RateLimitError, "HTTP 429 .*after 3 requests"),
    (500, ServerError, "HTTP 500 .*after 3 requests"),
    (400, ProviderError, "HTTP 400"),
])
def test_error_statuses(monkeypatch, status, error, text):
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    transport, seen = replying((status, {"error": {"message": "Incorrect API key provided: "
                                                   "sk-secretsecretsecret"}}, {}))
    with pytest.raises(error, match=text) as info:
        run(post(transport))
    assert "secretsecret" not in str(info.value)
    assert len(seen) == (3 if status in (429, 500) else 1)


def test_garbage_and_network_errors(monkeypatch):
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    transport, _ = replying((200, b"<html>proxy</html>", {}))
    with pytest.raises(BadResponse, match="not JSON"):
        run(post(transport))
    transport, seen = replying((httpx.ConnectError("refused"), None, {}))
    with pytest.raises(NetworkError, match="cannot reach api.test"):
        run(post(transport))
    assert len(seen) == 3


def test_retry_after_forms():
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None
    assert backoff(0, {"retry-after": "999"}) == 60.0
    assert 0 < backoff(3) <= 20 * 1.25


def test_redact(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "my-very-private-key-123")
    assert "private" not in redact("bad key my-very-private-key-123 given")
    assert "abcdef" not in redact("key sk-proj-abcdefgh12345")


# --- specs: what a provider module declares is all the rest reads ------------------------

def test_every_provider_module_declares_its_specs():
    declared = [s.name for m in (openai, anthropic, gemini) for s in m.SPECS]
    assert list(providers.SPECS) == [*declared, "local"]
    assert {s.name: s.module for s in openai.SPECS} == {
        "openai": "openai", "ollama": "openai", "openrouter": "openai"}
    assert type(providers.get(target("ollama:llava"))).__name__ == "OpenAI"


def test_a_declared_spec_is_what_keys_defaults_ranges_and_redaction_follow(monkeypatch):
    """A new provider is one spec: key lookup, default model, temperature range, the key
    redacted from errors, and its hints come from it alone."""
    spec = providers.Spec("acme", "openai", "OpenAI", "https://api.acme.test/v1",
                          ("ACME_API_KEY",), "ACME_BASE_URL", "vision-1",
                          temperature=(0.0, 0.5), known_models=("vision-1", "vision-2"))
    monkeypatch.setitem(providers.SPECS, "acme", spec)
    monkeypatch.setattr("pixelproof.http.SECRET_VARS", providers.secret_vars())
    for var in [v for s in providers.SPECS.values() for v in s.key_vars] + ["PIXELPROOF_MODEL"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ACME_API_KEY", "acme-secret-value-123")
    assert providers.default_model() == "acme:vision-1"
    acme = providers.resolve("acme:visoin-1")
    assert acme.base_url == "https://api.acme.test/v1"
    assert acme.api_key == "acme-secret-value-123"
    assert providers.temperature_problem(0.7, ["acme:vision-1"]) == \
        "is not in 0 to 0.5 (the range of acme)"
    assert providers.temperature_problem(0.4, ["acme:vision-1"]) is None
    assert "acme-secret" not in redact("said acme-secret-value-123")
    assert "Check ACME_API_KEY." == providers.hints(acme)[401]
    assert "Did you mean 'acme:vision-1'" in providers.hints(acme)[404]


def test_the_three_http_providers_stream_through_one_skeleton(image):
    """Each provider's events fold into text pieces and one final Response."""
    sse = {
        "openai": ['{"model":"m1","choices":[{"delta":{"content":"Hel"}}]}',
                   '{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}',
                   '{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}',
                   "[DONE]"],
        "anthropic": ['{"type":"message_start","message":{"model":"m1","usage":'
                      '{"input_tokens":7}}}',
                      '{"type":"content_block_delta","delta":{"text":"Hel"}}',
                      '{"type":"content_block_delta","delta":{"text":"lo"}}',
                      '{"type":"message_delta","delta":{"stop_reason":"end_turn"},'
                      '"usage":{"output_tokens":2}}'],
        "gemini": ['{"modelVersion":"m1","candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}',
                   '{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP"}],'
                   '"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2}}'],
    }
    for name, events in sse.items():
        urls = []

        def handler(request, events=events, urls=urls):
            urls.append(str(request.url))
            body = "".join(f"data: {e}\n\n" for e in events)
            return httpx.Response(200, content=body.encode(),
                                  headers={"content-type": "text/event-stream"})

        async def go(name=name, handler=handler):
            t = target(f"{name}:m0")
            req = Request(model=f"{name}:m0", prompt="hi", images=(image,))
            async with Http(transport=httpx.MockTransport(handler), retries=0) as http:
                return [p async for p in providers.get(t).stream(req, t, http)]

        *pieces, done = run(go())
        assert pieces == ["Hel", "lo"], name
        assert (done.text, done.model, done.finish_reason) == ("Hello", "m1", "stop"), name
        assert (done.usage.input_tokens, done.usage.output_tokens) == (7, 2), name
    assert urls[0].endswith("models/m0:streamGenerateContent?alt=sse")
