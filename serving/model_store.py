"""The served model: the latest version under a base directory in TF Serving's layout, reloaded when a newer
version lands (`<base>/<version>/saved_model.pb`, versions are integers, the largest wins, like TF Serving's
default "latest" version policy).

A version counts once its saved_model.pb exists: the pipeline's Pusher (components/atomic_pusher) renames a
fully copied version into place, and TFX's stock Pusher copies that file last, the convention TF Serving relies
on too. Other entries of the base directory are skipped, such as the Pusher's hidden staging directories
(`.push-<version>-<host>-<pid>`). A new version is loaded fully (SavedModel and signatures) before the switch;
until then, and if it fails to load (e.g. still being copied by another tool), the current one keeps serving
and the load is retried on the next poll.
"""
import dataclasses
import logging
import os
import threading
from typing import Dict, List, Optional

import tensorflow as tf
from google.protobuf import message
# Registers tensorflow-text's ops (NormalizeUTF8, ...), which SavedModels with in-graph tokenisers need.
import tensorflow_text  # noqa: F401


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
    version: int
    path: str
    signatures: Dict[str, tf.types.experimental.ConcreteFunction]
    _saved_model: object  # keeps the loaded object (and so the signatures' variables) alive


def list_versions(base_path: str) -> List[int]:
    """Numeric subdirectories holding a saved_model.pb, ascending; hidden or staging folders are not numbers."""
    versions = []
    for entry in tf.io.gfile.listdir(base_path):
        name = entry.strip("/")
        # isascii: str.isdigit() also accepts digits int() refuses (e.g. "²").
        if name.isascii() and name.isdigit() and tf.io.gfile.exists(
                os.path.join(base_path, name, "saved_model.pb")):
            versions.append(int(name))
    return sorted(versions)


def load_version(base_path: str, version: int) -> LoadedVersion:
    path = os.path.join(base_path, str(version))
    saved_model = tf.saved_model.load(path)
    signatures = dict(saved_model.signatures)
    if not signatures:
        raise ValueError(f"{path} has no serving signatures")
    return LoadedVersion(version, path, signatures, saved_model)


class ModelStore:
    """Holds the version being served; refresh() is called by one poller, current() by any request."""

    def __init__(self, name: str, base_path: str):
        if not tf.io.gfile.isdir(base_path):
            raise FileNotFoundError(f"model base path {base_path} does not exist or is not a directory")
        self.name = name
        self.base_path = base_path
        self._current: Optional[LoadedVersion] = None
        self._failed: Dict[int, str] = {}  # version -> error, logged once per version
        self._refresh_lock = threading.Lock()

    def current(self) -> Optional[LoadedVersion]:
        return self._current  # one attribute read: a request sees the old or the new version, whole

    def refresh(self) -> bool:
        """Loads the latest version if it is newer than the one served; returns whether it switched."""
        with self._refresh_lock:
            try:
                versions = list_versions(self.base_path)
            except (OSError, tf.errors.OpError) as error:  # e.g. the base path was removed: keep serving
                logging.warning("Cannot list %s: %s", self.base_path, error)
                return False
            current = self._current
            if not versions or (current is not None and versions[-1] <= current.version):
                return False
            latest = versions[-1]
            try:
                loaded = load_version(self.base_path, latest)
            except (OSError, ValueError, tf.errors.OpError, message.DecodeError) as error:
                if self._failed.get(latest) != str(error):
                    logging.warning("Version %d of %s did not load (will retry): %s", latest, self.name, error)
                    self._failed[latest] = str(error)
                return False
            self._current = loaded
            self._failed.pop(latest, None)
            logging.info("Serving %s version %d from %s (signatures: %s)", self.name, latest, loaded.path,
                         ", ".join(sorted(loaded.signatures)))
            return True
