"""The embedding cache (components/retrieval/embedding_cache.py): a text embedded once by an export is read back,
not embedded again, in this process or the next; another fingerprint (a rewritten export) never reads it; and
Retrieval run twice on the same catalogue with a cache makes the same candidates, embedding nothing the second
time."""
import os

import numpy as np
import pytest

import test_retrieval_executor
from components.retrieval import embedding_cache
from components.retrieval.embedding import TextEncoder
from models import encoder as encoder_exports


class _Counting:
    """A fake encoder: a vector per text from its characters, and the texts it was asked for."""

    def __init__(self):
        self.asked = []

    def __call__(self, texts):
        self.asked.append(list(texts))
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)


def test_a_text_is_embedded_once_and_read_back_in_order_with_repeats(tmp_path):
    fake = _Counting()
    cache = embedding_cache.EmbeddingCache(str(tmp_path), "fp1", embedding_cache.QUERY)
    first = cache.embed(["b", "a", "b"], fake)
    assert fake.asked == [["a", "b"]] and first.shape == (3, 3) and np.array_equal(first[0], first[2])
    again = cache.embed(["a", "c"], fake)
    assert fake.asked[-1] == ["c"] and np.array_equal(again[0], first[1])
    assert (cache.hits, cache.misses) == (1, 3)  # "a" read back; a, b, c embedded once each
    # The next run (a new process's cache on the same folder) embeds nothing it has.
    rerun, fresh = embedding_cache.EmbeddingCache(str(tmp_path), "fp1", embedding_cache.QUERY), _Counting()
    assert np.array_equal(rerun.embed(["c", "a", "b"], fresh), np.stack([again[1], first[1], first[0]]))
    assert fresh.asked == []
    assert not [name for name in os.listdir(cache.directory) if name.endswith(".tmp")]  # renamed into place


def test_another_fingerprint_or_form_never_reads_the_vectors(tmp_path):
    embedding_cache.EmbeddingCache(str(tmp_path), "fp1", embedding_cache.QUERY).embed(["a"], _Counting())
    for fingerprint, form in (("fp2", embedding_cache.QUERY), ("fp1", embedding_cache.PASSAGE)):
        fake = _Counting()
        embedding_cache.EmbeddingCache(str(tmp_path), fingerprint, form).embed(["a"], fake)
        assert fake.asked == [["a"]]
    with pytest.raises(ValueError, match="fingerprint"):
        embedding_cache.EmbeddingCache(str(tmp_path), "", embedding_cache.QUERY)


def test_the_encoder_reads_its_cached_vectors_and_a_handle_without_fingerprint_is_not_cached(tmp_path):
    handle = test_retrieval_executor.export_encoder(test_retrieval_executor.default_export_dir())
    texts = ["running shoes", "Stainless steel cooking pot 5 l", "running shoes"]
    plain = TextEncoder(handle)
    cached = TextEncoder(handle, cache_root=str(tmp_path))
    assert cached.caches and os.path.basename(os.path.dirname(cached.caches["query"].directory)) == \
        encoder_exports.fingerprint(handle)
    np.testing.assert_allclose(cached.embed(texts), plain.embed(texts), atol=1e-6)
    np.testing.assert_allclose(cached.embed_passages(texts), plain.embed_passages(texts), atol=1e-6)
    reread = TextEncoder(handle, cache_root=str(tmp_path))
    np.testing.assert_array_equal(reread.embed(texts), cached.embed(texts))
    assert reread.caches["query"].misses == 0 and reread.caches["query"].hits == 3
    # A copy of the export without its stamp has no fingerprint: nothing says it is the same, so no cache.
    import shutil

    from models.encoder import atomic_export
    copy = tmp_path / "unstamped"
    shutil.copytree(handle, copy, ignore=shutil.ignore_patterns(atomic_export.STAMP_FILE))
    assert encoder_exports.fingerprint(str(copy)) == ""
    assert TextEncoder(str(copy), cache_root=str(tmp_path)).caches == {}


def test_retrieval_rerun_with_a_cache_embeds_nothing_and_finds_the_same(tmp_path):
    handle = test_retrieval_executor.export_encoder(test_retrieval_executor.default_export_dir())
    cache_root = str(tmp_path / "cache")
    first, report, _ = test_retrieval_executor.run_retrieval(tmp_path / "one", handle, cache_root)
    files = sorted(os.listdir(os.path.join(cache_root, encoder_exports.fingerprint(handle), "passage")))
    assert files  # the catalogue's titles are kept
    second, again, _ = test_retrieval_executor.run_retrieval(tmp_path / "two", handle, cache_root)
    key = lambda r: (r["query_id"], r["product_id"])  # noqa: E731
    assert sorted(map(key, second)) == sorted(map(key, first))
    assert again["candidates"] == report["candidates"]
    # Nothing new was embedded: no new file appeared.
    assert sorted(os.listdir(os.path.join(cache_root, encoder_exports.fingerprint(handle), "passage"))) == files
