"""serving.model_store and serving.codec on a tiny SavedModel made here: version discovery, a half-written
version never served, and TF Serving's row format for several outputs."""
import os

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
