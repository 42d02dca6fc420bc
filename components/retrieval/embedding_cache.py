"""Text embeddings kept on disk by encoder fingerprint, so that a rerun on the same catalogue embeds nothing.

TFX's cache reuses a whole component only when all its inputs are unchanged; a run with new judgements
reruns Retrieval and TeacherLabeling, which would embed the same 54,667 catalogue titles again (minutes per
encoder on 2 cores). Here each vector is kept under the fingerprint of the encoder export that made it
(models.encoder.fingerprint: it changes whenever the export is rewritten, so a stale vector is never read)
and the form it was made in (query or passage: E5 embeds them differently):

    <root>/<fingerprint>/<form>/<sha256 of the texts>.npz    (texts and their vectors, one file per batch)

A file is written to a temporary name and renamed, so a reader sees it whole; Beam workers that embed at the
same time write files of their own. An encoder without a fingerprint (a handle with no export stamp) is not
cached: nothing would tell a changed export from the same one.
"""
import hashlib
import io
import os
import threading
import uuid
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

QUERY, PASSAGE = "query", "passage"
# The execution property naming the cache folder, of every component that embeds (Retrieval, TeacherLabeling);
# "" or absent: nothing is kept.
EMBEDDING_CACHE_KEY = "embedding_cache"


class EmbeddingCache:
    """Vectors of one encoder export, by text, for one form (QUERY or PASSAGE)."""

    def __init__(self, root: str, fingerprint: str, form: str):
        if not fingerprint:
            raise ValueError("an embedding cache needs the encoder's fingerprint")
        if form not in (QUERY, PASSAGE):
            raise ValueError(f"form must be {QUERY!r} or {PASSAGE!r}, not {form!r}")
        self.directory = os.path.join(root, fingerprint, form)
        self._vectors: Optional[Dict[str, np.ndarray]] = None
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _load(self) -> Dict[str, np.ndarray]:
        if self._vectors is None:
            vectors: Dict[str, np.ndarray] = {}
            for path in sorted(tf.io.gfile.glob(os.path.join(self.directory, "*.npz"))):
                with tf.io.gfile.GFile(path, "rb") as f:
                    data = np.load(io.BytesIO(f.read()), allow_pickle=False)
                    vectors.update(zip(data["texts"].tolist(), data["vectors"]))
            self._vectors = vectors
        return self._vectors

    def embed(self, texts: Sequence[str], embed: Callable[[List[str]], np.ndarray]) -> np.ndarray:
        """[len(texts), d] vectors: cached ones read, the others from embed(missing texts) and then kept."""
        with self._lock:
            known = self._load()
            absent = {text for text in texts if text not in known}
            missing = sorted(absent)
            self.hits += sum(1 for text in texts if text not in absent)
            self.misses += len(missing)
            if missing:
                fresh = np.asarray(embed(missing), dtype=np.float32)
                self._write(missing, fresh)
                known.update(zip(missing, fresh))
            if not texts:
                return np.zeros((0, 0), np.float32)
            return np.stack([known[text] for text in texts])

    def _write(self, texts: List[str], vectors: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, texts=np.array(texts, dtype=str), vectors=vectors)
        name = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
        path = os.path.join(self.directory, f"{name}.npz")
        staging = os.path.join(self.directory, f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            tf.io.gfile.makedirs(self.directory)
            with tf.io.gfile.GFile(staging, "wb") as f:
                f.write(buffer.getvalue())
            tf.io.gfile.rename(staging, path, overwrite=True)
        except (OSError, tf.errors.OpError) as error:  # a cache that cannot be written costs time, not data
            logging.warning("Embedding cache %s not written (%s): the vectors are used, not kept", path, error)
