"""The local server (`python -m serving`) on the pipeline's pushed model: real HTTP on 127.0.0.1, scores equal to
the in-process SavedModel's, TF Serving's error format, and a newly landed version picked up."""
import base64
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from pipeline import configs

pytestmark = pytest.mark.slow  # whole pipeline runs, training or a real server

MODEL = configs.MODEL_NAME
START_TIMEOUT_S = 180  # the server process imports TensorFlow and loads the model
# A switch loads the new version and calls each of its signatures once before serving it (the warm-up): on
# 2 busy cores loading the 194 MB ensemble alone has taken over 60 s.
SWITCH_TIMEOUT_S = 240
# No proxy from the environment may see requests meant for 127.0.0.1.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(url, body=None, raw=None):
    """(status, JSON body, headers) of a GET (no body) or a POST."""
    data = raw if raw is not None else (json.dumps(body).encode("utf-8") if body is not None else None)
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with _HTTP.open(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _version_dirs(base):
    return sorted((int(v) for v in os.listdir(base) if v.isdigit()))


@pytest.fixture(scope="module")
def pairs(sample_data_dir):
    """A few judged rows of the sample, English and Chinese."""
    with open(os.path.join(sample_data_dir, "search_log.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    picked = rows[::97]
    assert any(not row["query"].isascii() for row in picked) and any(row["query"].isascii() for row in picked)
    return picked


@pytest.fixture(scope="module")
def base_dir(pipeline_output_dir, tmp_path_factory):
    """A copy of the pushed model in TF Serving's layout: <tmp>/search_ranker/<version>/."""
    pushed = configs.serving_model_dir(pipeline_output_dir)
    version = _version_dirs(pushed)[-1]
    base = tmp_path_factory.mktemp("serving") / MODEL
    shutil.copytree(os.path.join(pushed, str(version)), base / str(version))
    return str(base)


@pytest.fixture(scope="module")
def loaded(base_dir):
    return tf.saved_model.load(os.path.join(base_dir, str(_version_dirs(base_dir)[-1])))


@pytest.fixture(scope="module")
def server(base_dir, tmp_path_factory):
    """`python -m serving` in a subprocess on a free port of 127.0.0.1; stopped after the module."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server_log") / "server.log"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving", "--model-base-path", base_dir, "--host", "127.0.0.1",
             "--port", str(port), "--poll-seconds", "0.5"],
            cwd=str(configs.REPO_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"server exited:\n{log_path.read_text()}"
            try:
                if _call(f"{url}/v1/models/{MODEL}")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            assert time.monotonic() < deadline, f"server not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()}"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _example(row) -> bytes:
    """A serialized tf.Example with the raw serving features (the label is not sent)."""
    feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[row[name].encode("utf-8")]))
               for name in ("query_id", "query", "product_id", "product_title")}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _text_request(pairs):
    return {"signature_name": "score_text",
            "instances": [{"query": row["query"], "product_title": row["product_title"]} for row in pairs]}


def _examples_request(pairs):
    return {"instances": [{"b64": base64.b64encode(_example(row)).decode("ascii")} for row in pairs]}


def test_status_reports_the_version_available(server, base_dir):
    status, body, _ = _call(f"{server}/v1/models/{MODEL}")
    assert status == 200
    (entry,) = body["model_version_status"]
    assert entry["version"] == str(_version_dirs(base_dir)[-1]) and entry["state"] == "AVAILABLE"
    assert _call(f"{server}/v1/models/{MODEL}/versions/{entry['version']}")[0] == 200


def test_score_text_over_http_equals_in_process(server, loaded, pairs):
    status, body, headers = _call(f"{server}/v1/models/{MODEL}:predict", _text_request(pairs))
    assert status == 200, body
    expected = loaded.signatures["score_text"](
        query=tf.constant([row["query"] for row in pairs]),
        product_title=tf.constant([row["product_title"] for row in pairs]))["score"].numpy()
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-5)


def test_serving_default_with_b64_examples_equals_in_process(server, loaded, pairs):
    status, body, _ = _call(f"{server}/v1/models/{MODEL}:predict", _examples_request(pairs))
    assert status == 200, body
    expected = loaded.signatures["serving_default"](
        examples=tf.constant([_example(row) for row in pairs]))["score"].numpy()
    np.testing.assert_allclose(body["predictions"], expected, atol=1e-5)
    # The same input named explicitly, as TF Serving also accepts for a one-input signature.
    named = {"signature_name": "serving_default",
             "instances": [{"examples": item} for item in _examples_request(pairs)["instances"]]}
    status, body_named, _ = _call(f"{server}/v1/models/{MODEL}:predict", named)
    assert status == 200 and body_named == body


@pytest.mark.parametrize("request_body, fragment", [
    ({"signature_name": "score_text", "instances": [{"query": "a", "product_title": "b"}, {"query": "a"}]},
     "instance 1 is missing input 'product_title'"),
    ({"signature_name": "score_text", "instances": [{"query": 3, "product_title": "b"}]},
     "instance 0 input 'query'"),
    ({"signature_name": "score_text", "instances": [{"query": "a", "product_title": "b", "x": "c"}]},
     "unknown input 'x'"),
    ({"instances": [{"b64": "AAAA"}, {"b64": "not base64!"}]}, "instance 1 input 'examples': 'b64'"),
    ({"instances": [{"b64": base64.b64encode(b"not an Example").decode()}]}, "rejected the input"),
    ({"signature_name": "no_such_signature", "instances": [{"query": "a"}]}, "no_such_signature"),
    ({"signature_name": "score_text"}, "\"instances\""),
    ({"signature_name": "score_text", "instances": []}, "non-empty list"),
])
def test_bad_requests_are_400_with_the_reason(server, request_body, fragment):
    status, body, _ = _call(f"{server}/v1/models/{MODEL}:predict", request_body)
    assert status == 400 and fragment in body["error"], body


def test_invalid_json_is_400(server):
    status, body, _ = _call(f"{server}/v1/models/{MODEL}:predict", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]


@pytest.mark.parametrize("path", [
    "/v1/models/other_model", "/v1/models/other_model:predict", "/v1/models/search_ranker/versions/1",
    "/v1/models/search_ranker/versions/1:predict", "/v2/anything"])
def test_unknown_model_version_or_path_is_404(server, path):
    body = _text_request([{"query": "a", "product_title": "b"}]) if path.endswith(":predict") else None
    status, response, _ = _call(f"{server}{path}", body)
    assert status == 404 and "error" in response, response


def test_a_new_version_is_picked_up(server, base_dir, pairs):
    """Runs last: copies the model in as a higher version, file by file as TFX's stock Pusher does (no rename)."""
    old = _version_dirs(base_dir)[-1]
    new = old + 1
    _, before, _ = _call(f"{server}/v1/models/{MODEL}:predict", _text_request(pairs))
    shutil.copytree(os.path.join(base_dir, str(old)), os.path.join(base_dir, str(new)))
    deadline = time.monotonic() + SWITCH_TIMEOUT_S
    while _call(f"{server}/v1/models/{MODEL}")[1]["model_version_status"][0]["version"] != str(new):
        assert time.monotonic() < deadline, f"version {new} not served after {SWITCH_TIMEOUT_S} s"
        time.sleep(0.5)
    status, after, headers = _call(f"{server}/v1/models/{MODEL}:predict", _text_request(pairs))
    assert status == 200 and headers["X-Model-Version"] == str(new)
    np.testing.assert_allclose(after["predictions"], before["predictions"], atol=1e-5)
    assert _call(f"{server}/v1/models/{MODEL}/versions/{new}:predict", _text_request(pairs))[0] == 200
    assert _call(f"{server}/v1/models/{MODEL}/versions/{old}:predict", _text_request(pairs))[0] == 404
