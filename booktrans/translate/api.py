"""Any OpenAI-compatible chat endpoint as a translation engine (DeepSeek, SiliconFlow, a local
``vllm serve``): ``POST {base_url}/chat/completions`` with httpx.

- **Concurrency**: at most ``concurrency`` requests are in flight at once, whatever the number of
  threads calling ``generate``.
- **Retries**: a 429, a 5xx, a timeout or a dropped connection is retried with exponential backoff
  (the server's ``Retry-After`` is honoured, capped at ``max_backoff``), up to ``retries`` times; a
  refused connection only ``connect_retries`` times, so an endpoint that is not there fails fast.
- **Errors that no retry mends** (a refused key, an unknown model or URL, a request the endpoint
  rejects) raise ``EngineError`` at once with one line naming the endpoint and the cause.
- **Truncation**: ``finish_reason: length`` becomes ``stop_reason: length`` (``truncated``).
- **Usage**: prompt, completion and cached prompt tokens of every answer, for tokens and cost per book.

The API key is sent in the ``Authorization`` header and nowhere else: it is never logged, never part
of an error message and never written to any file.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time

from .engines import EngineError, Output, Request

log = logging.getLogger(__name__)

KEY_VARIABLES = ("BOOKTRANS_API_KEY", "OPENAI_API_KEY")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_KEYLIKE = re.compile(r"\b(?:sk|key)-[A-Za-z0-9*_\-]{6,}")
_FATAL = {
    400: "the endpoint rejected the request",
    404: "no such model or URL at this endpoint",
    413: "the request is too large for the endpoint",
    422: "the endpoint rejected the request",
}


def find_key(variables: tuple[str, ...] | list[str] = KEY_VARIABLES) -> tuple[str | None, str | None]:
    """(key, the variable it came from), from the first of ``variables`` that is set and not empty."""
    for name in variables:
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    return None, None


def estimate_tokens(text: str) -> int:
    """Tokens of a remote model whose tokenizer is not here, erring high so that budgets hold: one per
    CJK character (Qwen, DeepSeek and GPT-4o tokenizers use 0.6–0.9), one per 4 other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


class OpenAIEngine:
    """Chat completions from an OpenAI-compatible endpoint; thread-safe, one request per call."""

    name = "openai"
    parallel = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        key_variable: str | None = None,
        concurrency: int = 4,
        timeout: float = 300.0,
        retries: int = 6,
        connect_retries: int = 2,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        temperature: float = 0.0,
        max_tokens: int = 0,
        extra: dict | None = None,
        transport=None,
    ) -> None:
        import httpx

        if not base_url or not re.match(r"https?://", base_url):
            raise EngineError(
                f"--base-url {base_url!r}: give the endpoint's http(s) URL, e.g. https://api.deepseek.com/v1"
            )
        if concurrency < 1:
            raise EngineError(f"concurrency {concurrency}: must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.key_variable = key_variable
        self.concurrency = concurrency
        self.retries, self.connect_retries = retries, connect_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.temperature, self.max_tokens = temperature, max_tokens
        self.extra = dict(extra or {})
        self._secret = api_key or ""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=True,
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._random = random.Random(0)

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def prompt_length(self, messages: list[dict]) -> int:
        return sum(estimate_tokens(m["content"]) + 4 for m in messages) + 2  # a few tokens of chat markup per message

    def close(self) -> None:
        self._client.close()

    def generate(self, requests: list[Request]) -> list[Output]:
        return [self._complete(r) for r in requests]

    # -- one request, with retries -------------------------------------------------------------
    def _complete(self, request: Request) -> Output:
        import httpx

        body = {
            "model": self.model,
            "messages": request.messages,
            "temperature": self.temperature,
            "max_tokens": min(request.max_new_tokens, self.max_tokens) if self.max_tokens else request.max_new_tokens,
            **self.extra,
        }
        url = f"{self.base_url}/chat/completions"
        attempt = connects = 0
        with self._slots:
            while True:
                wait = None
                try:
                    resp = self._client.post(url, json=body)
                except httpx.ConnectError as exc:
                    connects += 1
                    if connects > self.connect_retries:
                        raise EngineError(
                            f"{self.base_url}: cannot reach the endpoint ({_reason(exc)}); check the base URL "
                            f"and the network"
                        ) from None
                    cause = f"cannot connect ({_reason(exc)})"
                except httpx.TimeoutException:
                    cause = "no answer in time"
                except httpx.TransportError as exc:
                    cause = f"connection broken ({_reason(exc)})"
                else:
                    if resp.status_code == 200:
                        return self._parse(resp)
                    self._fail_now(resp)
                    cause = f"HTTP {resp.status_code} {resp.reason_phrase}".strip()
                    wait = _retry_after(resp)
                attempt += 1
                if attempt > self.retries:
                    raise EngineError(f"{self.base_url}: gave up after {attempt} attempts, the last one: {cause}")
                delay = min(
                    self.max_backoff,
                    wait if wait is not None else self.backoff * 2 ** (attempt - 1) * (0.5 + self._random.random()),
                )
                log.warning("%s: %s; retry %d of %d in %.1f s", self.base_url, cause, attempt, self.retries, delay)
                time.sleep(delay)

    def _fail_now(self, resp) -> None:
        code = resp.status_code
        if code in (401, 403):
            if self.key_variable:
                hint = f"the API key from {self.key_variable} was refused; check it"
            else:
                hint = f"the endpoint needs an API key: set {' or '.join(KEY_VARIABLES)}"
            raise EngineError(f"{self.base_url}: HTTP {code} {resp.reason_phrase}: {hint}")
        if code in _FATAL:
            raise EngineError(
                f"{self.base_url}: HTTP {code}: {_FATAL[code]} (model {self.model!r}): {self._redact(_message(resp))}"
            )

    def _redact(self, text: str) -> str:
        """An endpoint's own message, with anything that looks like a key masked."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return _KEYLIKE.sub("***", text)

    def _parse(self, resp) -> Output:
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = (choice.get("message") or {}).get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise EngineError(
                f"{self.base_url}: the answer is not an OpenAI chat completion: {self._redact(resp.text[:200])!r}"
            ) from None
        usage = data.get("usage") or {}
        cached = usage.get("prompt_cache_hit_tokens")  # DeepSeek
        if cached is None:
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0  # OpenAI
        return Output(
            text.strip(),
            str(choice.get("finish_reason") or "unknown"),
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            int(cached),
        )


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


def _retry_after(resp) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _message(resp) -> str:
    try:
        err = resp.json().get("error")
        msg = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        msg = resp.text
    return str(msg or "").strip().splitlines()[0][:200] if msg else "(no message)"
