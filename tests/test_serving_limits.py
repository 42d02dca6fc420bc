"""The local server's answers to hostile requests, in process over real HTTP on 127.0.0.1 (aiohttp's test
server): every one is a 400 (or a 503 when saturated) with a JSON error, never a 500 or a hang."""
import asyncio
import json
import time

import pytest
import tensorflow as tf
from aiohttp import test_utils

from serving import codec, model_store, server


class _Ranker(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="query"),
                                  tf.TensorSpec([None], tf.string, name="product_title")])
    def score_text(self, query, product_title):
        return {"score": tf.cast(tf.strings.length(query) + tf.strings.length(product_title), tf.float32)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("ranker")
    module = _Ranker()
    tf.saved_model.save(module, str(base / "1"), signatures={"score_text": module.score_text})
    store = model_store.ModelStore("ranker", str(base))
    assert store.refresh()
    return store


def _post_all(store, bodies):
    """[(status, JSON body)] of POSTing each raw body to :predict at once."""
    async def main():
        async with test_utils.TestClient(test_utils.TestServer(server.create_app(store, 0))) as client:
            async def post(body):
                response = await client.post("/v1/models/ranker:predict", data=body)
                return response.status, await response.json()
            return await asyncio.gather(*(post(body) for body in bodies))
    return asyncio.run(main())


def _text(**instance):
    return json.dumps({"signature_name": "score_text", "instances": [instance]})


@pytest.mark.parametrize("body, fragment", [
    ("[1, 2]", "must be a JSON object with \"instances\", not a JSON list"),
    ("42", "not a JSON int"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"signature_name": "score_text", "instances": [{"query": "\\ud800", "product_title": "x"}]}',
     "not valid Unicode text"),
    (_text(query="", product_title="a pot"), "is empty"),
    (_text(query="shoes", product_title="x" * (codec.MAX_INPUT_CHARS + 1)), "more than the limit"),
    (json.dumps({"signature_name": "score_text",
                 "instances": [{"query": "a", "product_title": "b"}] * (codec.MAX_INSTANCES + 1)}),
     "more than the limit of"),
])
def test_hostile_bodies_get_400_with_a_json_error(store, body, fragment):
    [(status, answer)] = _post_all(store, [body])
    assert status == 400 and fragment in answer["error"], answer


def test_a_large_request_is_scored_in_bounded_batches(store, monkeypatch):
    monkeypatch.setattr(server, "SCORE_BATCH", 7)
    instances = [{"query": "q" * (i % 5 + 1), "product_title": "t"} for i in range(codec.MAX_INSTANCES)]
    [(status, answer)] = _post_all(store, [json.dumps({"signature_name": "score_text", "instances": instances})])
    assert status == 200 and answer["predictions"] == [float(i % 5 + 2) for i in range(codec.MAX_INSTANCES)]


def test_a_saturated_server_answers_503_instead_of_piling_up(store, monkeypatch):
    slow = server._predict

    def predict(loaded, body):
        time.sleep(1.0)
        return slow(loaded, body)
    monkeypatch.setattr(server, "_predict", predict)
    monkeypatch.setattr(server, "SCORING_SLOTS", 1)
    monkeypatch.setattr(server, "QUEUE_TIMEOUT_SECONDS", 0.2)
    answers = _post_all(store, [_text(query="shoes", product_title="shoes")] * 2)
    assert sorted(status for status, _ in answers) == [200, 503]
    assert "the server is busy" in next(a["error"] for status, a in answers if status == 503)
