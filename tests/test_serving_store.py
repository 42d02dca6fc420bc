"""serving.model_store and serving.codec on a tiny SavedModel made here: version discovery, a half-written
or corrupt version never served (the newest good one is, the bad one retried with backoff), the warm-up,
TF Serving's row format for several outputs, and the bounds every request is held to."""
import json
import os
import shutil

import pytest
import tensorflow as tf

from serving import codec, model_store


class _Tiny(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                  tf.TensorSpec([None], tf.string, name="tag")])
    def score(self, x, tag):
        return {"double": 2.0 * x, "tag": tag}


def _save(path):
    module = _Tiny()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.score})


@pytest.fixture
def base(tmp_path):
    _save(tmp_path / "1")
    (tmp_path / "notes").mkdir()  # not a version
    (tmp_path / "7").mkdir()  # a version folder without saved_model.pb yet
    return tmp_path


def test_versions_are_numeric_folders_with_a_saved_model(base):
    assert model_store.list_versions(str(base)) == [1]


def test_hidden_and_staging_folders_are_not_versions(base):
    _save(base / ".push-9999999999-0123abcd")  # a complete model the Pusher has not renamed into place yet
    _save(base / "²")  # a digit to str.isdigit(), not to int()
    assert model_store.list_versions(str(base)) == [1]


def test_a_half_written_version_is_not_served_until_complete(base):
    store = model_store.ModelStore("tiny", str(base))
    assert store.refresh() and store.current().version == 1
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"half a protobuf")
    assert not store.refresh() and store.current().version == 1
    os.remove(base / "2" / "saved_model.pb")
    os.rmdir(base / "2")
    _save(base / "2")
    assert store.refresh() and store.current().version == 2
    assert not store.refresh()  # nothing newer


def test_a_missing_base_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model_store.ModelStore("tiny", str(tmp_path / "absent"))


def test_row_format_in_and_out_with_two_outputs(base):
    signature = model_store.load_version(str(base), 1).signatures["serving_default"]
    body = {"instances": [{"x": 1.5, "tag": "a"}, {"x": -1, "tag": {"b64": "w7w="}}]}
    tensors = codec.decode_instances(body, signature, "serving_default")
    assert tensors["tag"].numpy().tolist() == [b"a", "ü".encode("utf-8")]
    assert codec.encode_predictions(signature(**tensors)) == {"predictions": [
        {"double": 3.0, "tag": "a"}, {"double": -2.0, "tag": "ü"}]}


@pytest.mark.parametrize("instances, fragment", [
    ([{"x": 1.0}], "instance 0 is missing input 'tag'"),
    ([{"x": "1", "tag": "a"}], "instance 0 input 'x': expected a float32"),
    ([1.0], "must be an object with the inputs"),
    ([{"x": [1.0, 2.0], "tag": "a"}], "input 'x'"),
])
def test_bad_instances_name_the_instance_and_input(base, instances, fragment):
    signature = model_store.load_version(str(base), 1).signatures["serving_default"]
    with pytest.raises(codec.BadRequest, match=fragment):
        codec.decode_instances({"instances": instances}, signature, "serving_default")


def _corrupt_copy(source, target):
    """A version whose files are all there but whose weights were cut short (a half-finished copy)."""
    shutil.copytree(source, target)
    data = next((target / "variables").glob("variables.data-*"))
    data.write_bytes(data.read_bytes()[:3])


def test_a_corrupt_newest_version_is_skipped_and_the_newest_good_one_served(base, caplog):
    _save(base / "2")
    _corrupt_copy(base / "2", base / "3")
    clock = [100.0]
    loads = []

    def loader(path, version):
        loads.append(version)
        return model_store.load_version(path, version)
    store = model_store.ModelStore("tiny", str(base), clock=lambda: clock[0], loader=loader)
    with caplog.at_level("WARNING"):
        assert store.refresh() and store.current().version == 2  # at start-up: the newest that loads
    assert store.failed_versions() == [3] and loads == [3, 2]
    assert sum("Version 3 of tiny did not load" in r.getMessage() for r in caplog.records) == 1
    # Not reloaded on every poll: the next try waits for the backoff.
    clock[0] += 1
    assert not store.refresh() and loads == [3, 2]
    clock[0] += model_store.RETRY_FIRST_SECONDS
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert not store.refresh() and loads == [3, 2, 3]
    assert not caplog.records  # the same error is logged once
    # Repaired in place: served at the next try.
    shutil.rmtree(base / "3")
    _save(base / "3")
    clock[0] += 2 * model_store.RETRY_FIRST_SECONDS
    assert store.refresh() and store.current().version == 3 and store.failed_versions() == []


def test_every_signature_answers_once_before_a_version_is_served(base, monkeypatch):
    calls = []
    original = model_store._warm_up_inputs
    monkeypatch.setattr(model_store, "_warm_up_inputs", lambda signature: calls.append(signature) or original(signature))
    loaded = model_store.load_version(str(base), 1)
    assert len(calls) == len(loaded.signatures) == 1
    inputs = original(loaded.signatures["serving_default"])
    assert inputs["x"].shape == [1] and inputs["tag"].dtype == tf.string


@pytest.mark.parametrize("instance, fragment", [
    ({"x": 1.0, "tag": "\ud800"}, "not valid Unicode text"),
    ({"x": 1.0, "tag": "a" * (codec.MAX_INPUT_CHARS + 1)}, f"more than the limit of {codec.MAX_INPUT_CHARS}"),
])
def test_bad_text_is_a_bad_request(base, instance, fragment):
    signature = model_store.load_version(str(base), 1).signatures["serving_default"]
    body = json.loads(json.dumps({"instances": [instance]}))  # as the server parses it
    with pytest.raises(codec.BadRequest, match=fragment):
        codec.decode_instances(body, signature, "serving_default")


def test_too_many_instances_are_refused_with_the_limit(base):
    signature = model_store.load_version(str(base), 1).signatures["serving_default"]
    body = {"instances": [{"x": 1.0, "tag": "a"}] * (codec.MAX_INSTANCES + 1)}
    with pytest.raises(codec.BadRequest, match=f"{codec.MAX_INSTANCES + 1} instances, more than the limit"):
        codec.decode_instances(body, signature, "serving_default")


class _Ranker(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="query"),
                                  tf.TensorSpec([None], tf.string, name="product_title")])
    def score_text(self, query, product_title):
        return {"score": tf.cast(tf.strings.length(query) + tf.strings.length(product_title), tf.float32)}


@pytest.mark.parametrize("query, title", [("", "a pot"), ("shoes", "   ")])
def test_an_empty_query_or_title_is_refused_not_scored(tmp_path, query, title):
    module = _Ranker()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"score_text": module.score_text})
    signature = model_store.load_version(str(tmp_path), 1).signatures["score_text"]
    with pytest.raises(codec.BadRequest, match="is empty: there is nothing to rank by"):
        codec.decode_instances({"instances": [{"query": "shoes", "product_title": "shoes"},
                                              {"query": query, "product_title": title}]},
                               signature, "score_text")
