"""components/atomic_pusher's executor on real artifacts: a tiny SavedModel (with variables, so a push copies
several files) as the Model, a ModelBlessing, a PushedModel; the destination in TF Serving's layout.

A reader lists the destination while a push runs, slowed to 50 ms a file so that the reader looks many
times in between: with this executor it never finds a numbered version that is not complete; with TFX's
stock executor the same reader does (which is why this executor exists).
"""
import os
import threading
import time

import pytest
import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import path_utils, proto_utils

from components.atomic_pusher import executor
from components.atomic_pusher.component import Pusher
from serving import model_store

SLOW_COPY_S = 0.05
OLD_VERSION = "1"  # already served; far below any Unix-time version


class _Scaler(tf.Module):
    def __init__(self):
        super().__init__()
        self.weight = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"score": self.weight * x}


def _save(path):
    module = _Scaler()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def _files(folder):
    """{relative path: size} of every file under folder."""
    return {os.path.relpath(os.path.join(root, name), folder): os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(folder) for name in names}


@pytest.fixture
def model(tmp_path):
    artifact = standard_artifacts.Model()
    artifact.uri = str(tmp_path / "trainer" / "model")
    _save(path_utils.serving_model_path(artifact.uri, path_utils.is_old_model_artifact(artifact)))
    return artifact


@pytest.fixture
def base(tmp_path):
    """The destination, with an older version already pushed and served."""
    folder = tmp_path / "serving" / "search_ranker"
    _save(folder / OLD_VERSION)
    return folder


def _blessing(tmp_path, blessed: bool):
    artifact = standard_artifacts.ModelBlessing()
    artifact.uri = str(tmp_path / "blessing")
    artifact.set_int_custom_property("blessed", int(blessed))
    return artifact


def _push(tmp_path, model, blessing, base, executor_class=executor.Executor):
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pusher" / "pushed_model")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(base)))
    executor_class().Do(
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
    return pushed


def _source(model):
    return path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))


def test_a_blessed_model_is_pushed_whole_as_a_new_version(tmp_path, model, base):
    pushed = _push(tmp_path, model, _blessing(tmp_path, True), base)
    version = pushed.get_string_custom_property("pushed_version")
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == str(base / version)
    assert sorted(os.listdir(base)) == sorted([OLD_VERSION, version])  # no staging directory left
    assert _files(base / version) == _files(_source(model)) == _files(pushed.uri)
    store = model_store.ModelStore("search_ranker", str(base))
    assert store.refresh() and store.current().version == int(version)


def test_a_not_blessed_model_pushes_nothing_and_the_served_version_stays(tmp_path, model, base):
    store = model_store.ModelStore("search_ranker", str(base))
    assert store.refresh() and store.current().version == int(OLD_VERSION)
    pushed = _push(tmp_path, model, _blessing(tmp_path, False), base)
    assert pushed.get_int_custom_property("pushed") == 0
    assert os.listdir(base) == [OLD_VERSION]
    assert not store.refresh() and store.current().version == int(OLD_VERSION)


class _Reader(threading.Thread):
    """Lists the destination until stopped; records each numbered version it finds not equal to `complete`."""

    def __init__(self, base, complete):
        super().__init__(daemon=True)
        self.base, self.complete = str(base), complete
        self.partial, self.staging_seen = [], False
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for name in os.listdir(self.base):
                self.staging_seen |= name.startswith(executor.STAGING_PREFIX)
                if name.isdigit() and name != OLD_VERSION:
                    found = _files(os.path.join(self.base, name))
                    if found != self.complete:
                        self.partial.append((name, found))
            time.sleep(0.001)


def _push_while_reading(tmp_path, model, base, executor_class, monkeypatch):
    real_copy = fileio.copy

    def slow_copy(src, dst, overwrite=False):
        time.sleep(SLOW_COPY_S)
        real_copy(src, dst, overwrite)

    monkeypatch.setattr(fileio, "copy", slow_copy)  # io_utils.copy_dir copies each file through it
    reader = _Reader(base, _files(_source(model)))
    reader.start()
    try:
        pushed = _push(tmp_path, model, _blessing(tmp_path, True), base, executor_class)
    finally:
        reader.stop.set()
        reader.join()
    return pushed, reader


def test_a_reader_never_sees_a_partial_version_during_the_push(tmp_path, model, base, monkeypatch):
    pushed, reader = _push_while_reading(tmp_path, model, base, executor.Executor, monkeypatch)
    assert reader.staging_seen  # the reader looked while the copy was under way
    assert reader.partial == []
    assert _files(base / pushed.get_string_custom_property("pushed_version")) == _files(_source(model))


def test_the_stock_pusher_shows_a_reader_partial_versions(tmp_path, model, base, monkeypatch):
    """The same reader against TFX's own executor: why components/atomic_pusher exists."""
    _, reader = _push_while_reading(tmp_path, model, base, tfx_pusher.Executor, monkeypatch)
    assert reader.partial, "TFX's Pusher no longer copies into the version folder in place: recheck the need"


def test_a_failed_copy_leaves_no_version_and_no_staging(tmp_path, model, base, monkeypatch):
    real_copy, copies = fileio.copy, []

    def failing_copy(src, dst, overwrite=False):
        copies.append(src)
        if len(copies) == 2:
            raise OSError("disk full")
        real_copy(src, dst, overwrite)

    monkeypatch.setattr(fileio, "copy", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        _push(tmp_path, model, _blessing(tmp_path, True), base)
    assert os.listdir(base) == [OLD_VERSION]


@pytest.mark.parametrize("path, local", [("/srv/models/search_ranker", True), ("build/serving", True),
                                         ("gs://bucket/serving/search_ranker", False)])
def test_object_stores_keep_the_stock_push(path, local):
    # No atomic directory rename on an object store: TFX's ordered copy (saved_model.pb last) is kept there.
    assert executor.is_local(path) is local


def test_the_component_is_tfx_pushers_with_this_executor():
    pusher = Pusher(model=tfx.dsl.Channel(type=standard_artifacts.Model),
                    model_blessing=tfx.dsl.Channel(type=standard_artifacts.ModelBlessing),
                    push_destination=pusher_pb2.PushDestination(
                        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory="/srv/models")))
    assert pusher.id == "Pusher"  # node id, run summary and Kubeflow task name unchanged
    assert pusher.executor_spec.executor_class is executor.Executor
    assert pusher.outputs[standard_component_specs.PUSHED_MODEL_KEY].type is standard_artifacts.PushedModel


_KILLED_PUSH = """
import sys, time
from tfx.dsl.io import fileio
from components.atomic_pusher import executor
real_copy = fileio.copy
def slow_copy(src, dst, overwrite=False):
    time.sleep(0.5)
    real_copy(src, dst, overwrite)
fileio.copy = slow_copy
executor.push_atomically(sys.argv[1], sys.argv[2], "2000000000")
"""


def _staging(base):
    return sorted(n for n in os.listdir(base) if n.startswith(executor.STAGING_PREFIX))


def test_a_push_killed_mid_copy_leaves_staging_that_the_next_push_removes(tmp_path, model, base):
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", _KILLED_PUSH, _source(model), str(base)])
    deadline = time.time() + 120
    while not _staging(base) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = _staging(base)
    assert len(left) == 1 and left[0].endswith(f"-{process.pid}")  # killed before the rename: no version
    assert sorted(n for n in os.listdir(base) if n.isdigit()) == [OLD_VERSION]
    other_host = base / f"{executor.STAGING_PREFIX}2000000001-otherhost-{process.pid}"
    other_host.mkdir()  # another host's push on a shared volume: its process cannot be checked from here

    pushed = _push(tmp_path, model, _blessing(tmp_path, True), base)
    assert _staging(base) == [other_host.name]
    assert pushed.get_int_custom_property("pushed") == 1
