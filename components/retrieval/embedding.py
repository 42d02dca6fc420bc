"""Text embeddings from a TF Hub style encoder SavedModel (our export by default).

The encoder must offer `embed(texts) -> [n, d]` (models/encoder's exports do: mean-pooled and
L2-normalised) or a `serving_default` signature taking one string tensor. An encoder trained with asymmetric
inputs (E5: "query: " / "passage: ") also offers `embed_passage`, used for product titles; queries, and
whatever is compared with a query, go through `embed`. Vectors are L2-normalised here again, so cosine
similarity is a dot product whatever the encoder returns.
"""
import logging
import time
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokeniser ops the encoder's graph uses)

from components.retrieval import embedding_cache
from models import encoder as encoder_exports  # names only: the fingerprint reads the export's stamp


class TextEncoder:
    """Loads the encoder once; embeds texts in batches. With cache_root, vectors are kept there by the
    export's fingerprint (embedding_cache.py) and a text embedded once is read back, not embedded again."""

    def __init__(self, handle: str, batch_size: int = 64, cache_root: Optional[str] = None):
        start = time.perf_counter()
        self._model = tf.saved_model.load(handle)
        self._batch_size = batch_size
        if hasattr(self._model, "embed"):
            self._embed = self._model.embed
        elif "serving_default" in self._model.signatures:
            signature = self._model.signatures["serving_default"]
            output = next(iter(signature.structured_outputs))
            self._embed = lambda texts: signature(texts)[output]
        else:
            raise ValueError(f"encoder {handle} has neither an `embed` function nor a serving_default signature")
        self._embed_passage = getattr(self._model, "embed_passage", self._embed)
        self.caches: Dict[str, embedding_cache.EmbeddingCache] = {}
        fingerprint = encoder_exports.fingerprint(handle) if cache_root else ""
        if fingerprint:
            self.caches = {form: embedding_cache.EmbeddingCache(cache_root, fingerprint, form)
                           for form in (embedding_cache.QUERY, embedding_cache.PASSAGE)}
        logging.info("Loaded encoder %s in %.1f s%s", handle, time.perf_counter() - start,
                     f" (embedding cache {cache_root})" if self.caches else "")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), d] float32, L2-normalised, in the order of `texts`: queries (and symmetric use)."""
        return self._cached(embedding_cache.QUERY, self._embed, texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """As embed, for the documents searched (product titles): the encoder's passage form if it has one."""
        return self._cached(embedding_cache.PASSAGE, self._embed_passage, texts)

    def _cached(self, form: str, embed, texts: Sequence[str]) -> np.ndarray:
        cache = self.caches.get(form)
        if cache is None:
            return self._embed_in_batches(embed, texts)
        return cache.embed(list(texts), lambda missing: self._embed_in_batches(embed, missing))

    def _embed_in_batches(self, embed, texts: Sequence[str]) -> np.ndarray:
        # Batches of similar length: the encoder pads each batch to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = []
        for start in range(0, len(order), self._batch_size):
            batch = tf.constant([texts[i] for i in order[start:start + self._batch_size]], dtype=tf.string)
            batches.append(embed(batch).numpy())
        if not batches:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.empty((len(texts), batches[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(batches)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
