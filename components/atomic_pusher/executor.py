"""Pusher executor whose push to a local filesystem is atomic: a reader sees a version whole or not at all.

TFX 1.16's Pusher (tfx/components/pusher/executor.py) creates `<base>/<version>/` first and then copies the
model into it file by file (saved_model.pb last): until the last file lands, a server listing `<base>` finds a
numbered version with part of its files, or with a saved_model.pb still being written. Here the model is
copied into a hidden staging directory beside the versions (`<base>/.push-<version>-<host>-<pid>`: not a
number, so TF Serving and serving/ skip it) and renamed to `<base>/<version>` in one step, which rename(2)
makes atomic on a POSIX filesystem (local runs, a mounted volume). A push killed half-way leaves its staging
directory behind; the next push on the same host removes those whose process is gone (a mounted volume may
be shared by other hosts, whose processes cannot be checked from here, so theirs are left alone).

Object stores (gs://, s3://) have no atomic rename of a directory (it is a copy of each object), so there the
stock executor runs unchanged: each object appears whole and saved_model.pb comes last, TF Serving's signal.
Everything else is TFX's: the blessing check, the version (Unix time), skipping a version that exists, the
PushedModel artifact and its properties.
"""
import os
import re
import shutil
import socket
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from models.encoder.atomic_export import pid_alive

STAGING_PREFIX = ".push-"  # hidden, and not a version number to TF Serving or serving/model_store.py


def push_destination(exec_properties: Dict[str, Any]) -> pusher_pb2.PushDestination:
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    return destination


def is_local(path: str) -> bool:
    """A path of the local (POSIX) filesystem, where a directory rename is atomic."""
    return "://" not in path


def new_version(filesystem: pusher_pb2.PushDestination.Filesystem) -> str:
    """The version name TFX's Pusher would choose: Unix time in seconds (AUTO means the same)."""
    if filesystem.versioning not in (pusher_pb2.Versioning.AUTO, pusher_pb2.Versioning.UNIX_TIMESTAMP):
        raise NotImplementedError(f"Invalid Versioning {filesystem.versioning}")
    return str(int(time.time()))


def _host() -> str:
    """This host's name as it can appear in a staging directory's name (no '-': it separates the parts)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())


def remove_abandoned_staging(base_directory: str) -> List[str]:
    """Deletes the staging directories of pushes on this host whose process is gone (killed mid-copy);
    returns their paths."""
    if not os.path.isdir(base_directory):
        return []
    pattern = re.compile(re.escape(STAGING_PREFIX) + r"\d+-" + re.escape(_host()) + r"-(\d+)$")
    removed = []
    for name in sorted(os.listdir(base_directory)):
        match = pattern.match(name)
        if match and not pid_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(base_directory, name), ignore_errors=True)
            removed.append(os.path.join(base_directory, name))
    return removed


def push_atomically(model_dir: str, base_directory: str, version: str) -> str:
    """Copies model_dir to <base_directory>/<version> through a hidden staging directory in the same folder
    (a rename across filesystems would not be atomic); returns the version's path. On any failure the staging
    directory is removed and no version appears."""
    for path in remove_abandoned_staging(base_directory):
        logging.warning("Removed %s: the staging directory of a push that was killed before it finished.", path)
    final = os.path.join(base_directory, version)
    staging = os.path.join(base_directory, f"{STAGING_PREFIX}{version}-{_host()}-{os.getpid()}")
    try:
        io_utils.copy_dir(model_dir, staging)
        os.rename(staging, final)  # refuses a non-empty existing version rather than mixing two models
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


class Executor(tfx_pusher.Executor):
    """TFX's Pusher executor, with the filesystem copy staged and renamed into place (see the module doc)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        destination = push_destination(exec_properties)
        if destination.WhichOneof("destination") != "filesystem" or not is_local(
                destination.filesystem.base_directory):
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        base_directory = destination.filesystem.base_directory
        version = new_version(destination.filesystem)
        serving_path = os.path.join(base_directory, version)
        if os.path.exists(serving_path):
            logging.info("Destination directory %s already exists, skipping current push.", serving_path)
        else:
            push_atomically(model_path, base_directory, version)
            logging.info("Model written to serving path %s (staged, then renamed into place).", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)  # the PushedModel's archive copy, as TFX makes it
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
        logging.info("Model pushed to %s.", model_push.uri)
