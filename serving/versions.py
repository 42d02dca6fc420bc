"""TF Serving's layout, `<base>/<version>/saved_model.pb`: the one rule for which folders are versions, used by
the server (serving/model_store.py), `python -m pipeline score` and the benchmarks.

A version is a folder named by an integer (ASCII digits) holding a saved_model.pb; the largest is the newest,
like TF Serving's default "latest" policy. Anything else is skipped: hidden staging folders of the Pusher
(`.push-*`), empty or half-made numbered folders, stray files. Whether a version also *loads* is the
server's to find out (it falls back to the newest one that does).
"""
import os
from typing import List

import tensorflow as tf

SAVED_MODEL_FILE = "saved_model.pb"


def list_versions(base_path: str) -> List[int]:
    """Numeric subdirectories holding a saved_model.pb, ascending."""
    versions = []
    for entry in tf.io.gfile.listdir(base_path):
        name = entry.strip("/")
        # isascii: str.isdigit() also accepts digits int() refuses (e.g. "²").
        if name.isascii() and name.isdigit() and tf.io.gfile.exists(os.path.join(base_path, name, SAVED_MODEL_FILE)):
            versions.append(int(name))
    return sorted(versions)


def latest_version_dir(model_dir: str) -> str:
    """model_dir itself if it is a SavedModel, else its newest complete version; FileNotFoundError (one line,
    naming the folder) when there is neither."""
    if tf.io.gfile.exists(os.path.join(model_dir, SAVED_MODEL_FILE)):
        return model_dir
    if not tf.io.gfile.isdir(model_dir):
        raise FileNotFoundError(f"{model_dir}: no such model folder")
    versions = list_versions(model_dir)
    if not versions:
        raise FileNotFoundError(f"{model_dir}: neither a SavedModel nor a folder of complete versions "
                                f"(<version>/{SAVED_MODEL_FILE})")
    return os.path.join(model_dir, str(versions[-1]))
