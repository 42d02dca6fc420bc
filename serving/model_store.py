"""The served model: the newest version under a base directory in TF Serving's layout that loads, reloaded
when a newer one lands (serving/versions.py says which folders are versions).

The pipeline's Pusher (components/atomic_pusher) renames a fully copied version into place, and TFX's stock
Pusher copies saved_model.pb last, the convention TF Serving relies on too; another tool may still leave a
version half copied, or a disk may corrupt one. So a version is served only once it has loaded and answered
one real call through each of its signatures (the warm-up TF Serving's SavedModel warm-up does): until then the
current version keeps serving. A version that fails is skipped, logged once, and retried with exponential
backoff (the poller does not reload it every poll), or at once when its files change (a copy that finished);
the newest version that does load is served, at start-up maybe an older one.
"""
import ctypes
import dataclasses
import gc
import logging
import os
import threading
import time
from typing import Callable, Dict, List, Optional

import tensorflow as tf
# Registers tensorflow-text's ops (NormalizeUTF8, ...), which SavedModels with in-graph tokenisers need.
import tensorflow_text  # noqa: F401

from serving import versions as versions_lib

list_versions = versions_lib.list_versions

RETRY_FIRST_SECONDS = 5.0  # a failed version is tried again after this, then twice as long each time
RETRY_MAX_SECONDS = 600.0
# The warm-up call's texts: any non-empty strings do, they only make each signature run once. A serialized
# tf.Example carries all four (a schema may require the ids; parse_example ignores extra features).
_WARM_UP_TEXT = {"query": "warm-up query", "product_title": "warm-up title", "query_id": "warm-up",
                 "product_id": "warm-up"}


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
    version: int
    path: str
    signatures: Dict[str, tf.types.experimental.ConcreteFunction]
    _saved_model: object  # keeps the loaded object (and so the signatures' variables) alive


def _warm_up_inputs(signature) -> Dict[str, tf.Tensor]:
    """One instance for each input of a signature: text for string inputs (a serialized tf.Example carrying
    the texts for a one-input signature of serialized examples), zeros for numbers."""
    inputs = {}
    for name, spec in signature.structured_input_signature[1].items():
        shape = [1 if dim is None else dim for dim in spec.shape.as_list()]
        if spec.dtype != tf.string:
            inputs[name] = tf.zeros(shape, spec.dtype)
        elif name in _WARM_UP_TEXT:
            inputs[name] = tf.fill(shape, _WARM_UP_TEXT[name])
        else:
            example = tf.train.Example()
            for feature, text in _WARM_UP_TEXT.items():
                example.features.feature[feature].bytes_list.value.append(text.encode("utf-8"))
            inputs[name] = tf.fill(shape, example.SerializeToString())
    return inputs


def load_version(base_path: str, version: int) -> LoadedVersion:
    """Loads a version and calls each signature once (traces, first allocations), so that the first request
    after the switch does not pay for it; raises whatever loading or the warm-up raises."""
    path = os.path.join(base_path, str(version))
    saved_model = tf.saved_model.load(path)
    signatures = dict(saved_model.signatures)
    if not signatures:
        raise ValueError(f"{path} has no serving signatures")
    for name, signature in sorted(signatures.items()):
        start = time.perf_counter()
        signature(**_warm_up_inputs(signature))
        logging.debug("Warmed up %s of version %d in %.2f s", name, version, time.perf_counter() - start)
    return LoadedVersion(version, path, signatures, saved_model)


def _release_memory() -> None:
    """Collects the replaced version's objects (TensorFlow's hold reference cycles) and hands the freed heap
    back to the OS (glibc keeps it otherwise, so a server's memory would only ever grow with each switch)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


@dataclasses.dataclass
class _Failure:
    error: str
    attempts: int
    retry_at: float
    files: tuple  # _files_stamp when it failed


def _files_stamp(path: str) -> tuple:
    """(relative path, size, modification time) of every file of a version folder: changes when it is
    written to (a SavedModel has a handful of files, so this is cheap)."""
    stamp = []
    for root, _, names in tf.io.gfile.walk(path):
        for name in names:
            stat = tf.io.gfile.stat(os.path.join(root, name))
            stamp.append((os.path.relpath(os.path.join(root, name), path), stat.length, stat.mtime_nsec))
    return tuple(sorted(stamp))


class ModelStore:
    """Holds the version being served; refresh() is called by one poller, current() by any request."""

    def __init__(self, name: str, base_path: str, clock: Callable[[], float] = time.monotonic,
                 loader: Callable[[str, int], LoadedVersion] = load_version):
        if not tf.io.gfile.isdir(base_path):
            raise FileNotFoundError(f"model base path {base_path} does not exist or is not a directory")
        self.name = name
        self.base_path = base_path
        self._current: Optional[LoadedVersion] = None
        self._failed: Dict[int, _Failure] = {}
        self._refresh_lock = threading.Lock()
        self._clock, self._loader = clock, loader

    def current(self) -> Optional[LoadedVersion]:
        return self._current  # one attribute read: a request sees the old or the new version, whole

    def failed_versions(self) -> List[int]:
        return sorted(self._failed)

    def refresh(self) -> bool:
        """Serves the newest version newer than the current one that loads; returns whether it switched."""
        with self._refresh_lock:
            try:
                versions = list_versions(self.base_path)
            except (OSError, tf.errors.OpError) as error:  # e.g. the base path was removed: keep serving
                logging.warning("Cannot list %s: %s", self.base_path, error)
                return False
            current = self._current
            now = self._clock()
            for version in reversed(versions):
                if current is not None and version <= current.version:
                    return False
                failure = self._failed.get(version)
                if failure is not None and now < failure.retry_at and failure.files == self._stamp(version):
                    continue  # backing off (unless rewritten since): an older version may still load
                try:
                    loaded = self._loader(self.base_path, version)
                except Exception as error:  # noqa: BLE001 - any broken version must be skipped, not fatal
                    self._record_failure(version, error, now)
                    continue
                self._current = loaded  # the old version is freed once its last request is answered
                self._failed.pop(version, None)
                logging.info("Serving %s version %d from %s (signatures: %s)", self.name, version, loaded.path,
                             ", ".join(sorted(loaded.signatures)))
                del current
                _release_memory()
                return True
            return False

    def _stamp(self, version: int) -> tuple:
        try:
            return _files_stamp(os.path.join(self.base_path, str(version)))
        except (OSError, tf.errors.OpError):  # removed meanwhile: listed again at the next poll
            return ()

    def _record_failure(self, version: int, error: Exception, now: float) -> None:
        text = f"{type(error).__name__}: {error}"
        previous = self._failed.get(version)
        attempts = previous.attempts + 1 if previous else 1
        delay = min(RETRY_FIRST_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
        self._failed[version] = _Failure(text, attempts, now + delay, self._stamp(version))
        if previous is None or previous.error != text:  # once per version and error, not every poll
            logging.warning("Version %d of %s did not load; skipped, retried in %.0f s and then less often: %s",
                            version, self.name, delay, text.splitlines()[0][:500])
