"""The OpenAI-compatible HTTP backend against the real llama.cpp server (`python -m llama_cpp.server`) on
SmolLM2-135M, and its time-outs and retries against endpoints that are down, silent or overloaded.
Every request goes to 127.0.0.1 only; every wait is bounded."""
import http.server
import json
import socket
import threading
import time

import pytest
import requests

import llama_server as llama_server_lib
from components.augmentation import llm_backends
from components.query_generation import executor, prompts

_free_port = llama_server_lib.free_port


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """The real server (tests/llama_server.py); yields its /v1 base URL."""
    with llama_server_lib.running(tmp_path_factory.mktemp("llama_server")) as base_url:
        yield base_url


def test_generation_through_the_real_llama_cpp_server(llama_server):
    backend = llm_backends.create("openai_http", {"base_url": llama_server, "model": "smollm2", "timeout_s": 60,
                                                  "max_retries": 1})
    settings = executor.Settings.from_exec_properties({
        "queries_per_product": 3, "max_products": 0, "backend": "openai_http", "backend_config": "{}", "seed": 5,
        "temperature": 0.7, "max_tokens": 48, "max_query_chars": 60, "max_rounds": 2, "batch_size": 2})
    products = [executor.Product("P1", "Stride Lite men's canvas sneakers, classic, black"),
                executor.Product("P3", "TPE加厚瑜伽垫 体位线 6mm 蓝色 防滑")]
    results = executor.generate_for_products(backend, products, settings)
    for result in results:
        assert result.stats["candidates"] == result.stats["kept"] + sum(
            count for name, count in result.stats.items() if name.startswith("rejected_"))
    english = results[0]
    assert english.stats["kept"] >= 1, english
    assert all(0 < len(row["query"]) <= 60 for result in results for row in result.rows)

    # The seed is passed through: the same prompt and seed give the same completion.
    prompt = prompts.build_prompt(products[0].title, 3)
    first, second = (backend.generate([prompt], n=1, max_tokens=24, temperature=0.8, seed=11,
                                      stop=prompts.STOP)[0][0] for _ in range(2))
    assert first == second and first.strip()
    backend.close()


def test_endpoint_down_fails_after_bounded_retries():
    port = _free_port()  # nothing listens there
    backend = llm_backends.create("openai_http", {"base_url": f"http://127.0.0.1:{port}/v1", "model": "m",
                                                  "timeout_s": 1, "max_retries": 2, "backoff_s": 0.1})
    start = time.monotonic()
    with pytest.raises(llm_backends.BackendError, match=r"no answer after 3 attempts .*ConnectionError"):
        backend.generate(["Product title:"], n=1, max_tokens=4, temperature=0.0, seed=0)
    assert time.monotonic() - start < 5  # back-off 0.1 + 0.2 s, and refused connections fail at once


def test_silent_endpoint_times_out_on_each_attempt():
    with socket.socket() as listener:  # accepts connections (kernel backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        backend = llm_backends.create("openai_http", {"base_url": f"http://127.0.0.1:{port}/v1", "model": "m",
                                                      "timeout_s": 0.3, "max_retries": 1, "backoff_s": 0.05})
        start = time.monotonic()
        with pytest.raises(llm_backends.BackendError, match=r"no answer after 2 attempts .*Timeout"):
            backend.generate(["Product title:"], n=1, max_tokens=4, temperature=0.0, seed=0)
        assert 0.6 <= time.monotonic() - start < 3


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers POSTs with the next (status, body) of `script`; records the request bodies."""

    script, requests = [], []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        _Scripted.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        status, body = _Scripted.script.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Scripted.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_overloaded_endpoint_is_retried_then_answers(scripted_endpoint):
    _Scripted.script = [(503, {"error": "busy"}), (429, {"error": "slow down"}),
                        (200, {"choices": [{"index": 0, "text": " canvas shoes\n- sneakers"}]})]
    backend = llm_backends.create("openai_http", {"base_url": scripted_endpoint, "model": "served-name",
                                                  "max_retries": 2, "backoff_s": 0.01})
    assert backend.generate(["p"], n=1, max_tokens=16, temperature=0.5, seed=[9],
                            stop=["\n\n"]) == [[" canvas shoes\n- sneakers"]]
    assert len(_Scripted.requests) == 3
    assert _Scripted.requests[0] == {"model": "served-name", "prompt": "p", "max_tokens": 16, "temperature": 0.5,
                                     "top_p": 0.95, "seed": 9, "n": 1, "stop": ["\n\n"]}


def test_a_refused_request_is_not_retried(scripted_endpoint):
    _Scripted.script = [(400, {"error": "model 'x' not found"})]
    backend = llm_backends.create("openai_http", {"base_url": scripted_endpoint, "model": "x", "max_retries": 3})
    with pytest.raises(llm_backends.BackendError, match=r"HTTP 400, not retried.*model 'x' not found"):
        backend.generate(["p"], n=1, max_tokens=4, temperature=0.0, seed=0)
    assert len(_Scripted.requests) == 1


def test_unknown_backend_settings_are_named():
    with pytest.raises(ValueError, match=r"bad config for LLM backend 'openai_http'.*got keys \['url'\]"):
        llm_backends.create("openai_http", {"url": "http://127.0.0.1:1/v1"})
