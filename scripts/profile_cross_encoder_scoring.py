"""Where our cross-encoder's scoring time goes (batch 64, dev pairs of the Home Depot benchmark): in-graph
tokenisation alone vs the whole forward pass, under TF thread settings; and the same split for the
sentence-transformers CrossEncoder (HF fast tokenizer vs predict) when run with .venv-torch.

score_per_s scores the pairs 64 at a time in file order (each batch padded to its longest pair).
CrossEncoder.predict sorts its whole input by characters first, so the reference's predict_all_per_s (one
call over all pairs, as benchmarks/torch_cross_encoder.py scores) pads less; ours does the same with
cross_encoder.score_length_sorted: score_sorted_chars_per_s (same key), score_sorted_tokens_per_s (sorted by
token counts, the tokenisation for the sort included). Pass --encoder to measure an export other than the
project's (without it, a stale .cache export is rebuilt first). The ours / reference throughput ratios
themselves (training and scoring, alternating rounds in one run) come from benchmarks/throughput_benchmark.py;
this script is the diagnostic split behind its scoring figure.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python scripts/profile_cross_encoder_scoring.py [--batches 20] \\
        [--intra 0 --inter 0]
    .venv-torch/bin/python scripts/profile_cross_encoder_scoring.py --torch [--batches 20] [--threads 2]
Untrained weights (a fresh head): only the time matters. Prints one JSON line.
"""
import argparse
import json
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BATCH = 64


def _pairs(batches: int):
    from benchmarks import homedepot
    data = homedepot.load()
    dev = data.dev[:batches * BATCH]
    return [p.query for p in dev], [p.product_title for p in dev]


def _rate(fn, queries, titles) -> float:
    fn(queries[:BATCH], titles[:BATCH])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(queries), BATCH):
        fn(queries[i:i + BATCH], titles[i:i + BATCH])
    return len(queries) / (time.perf_counter() - start)


def _rate_all(fn, queries, titles) -> float:
    """fn over all pairs in one call (it batches them itself), after a one-batch warm-up."""
    fn(queries[:BATCH], titles[:BATCH])
    start = time.perf_counter()
    fn(queries, titles)
    return len(queries) / (time.perf_counter() - start)


def profile_tf(args) -> dict:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    import tensorflow_text  # noqa: F401

    from benchmarks import encoder_benchmark as eb
    from models import cross_encoder

    queries, titles = _pairs(args.batches)
    handle = args.encoder or cross_encoder.resolve_encoder_handle()
    encoder = tf.saved_model.load(handle)
    model = cross_encoder.build_cross_encoder(handle)
    spec = tf.TensorSpec([None], tf.string)
    tokenize = tf.function(lambda a, b: encoder.tokenize_pair(a, b), input_signature=[spec, spec])
    score = eb.make_scorer(model, {})
    out = {"intra": args.intra, "inter": args.inter, "load": os.getloadavg()[0],
           "tokenize_pair_per_s": _rate(lambda a, b: tokenize(tf.constant(a), tf.constant(b)), queries, titles),
           "score_per_s": _rate(lambda a, b: score(tf.constant(a), tf.constant(b)).numpy(), queries, titles),
           "score_sorted_chars_per_s": _rate_all(
               lambda a, b: cross_encoder.score_length_sorted(score, a, b, BATCH), queries, titles),
           "score_sorted_tokens_per_s": _rate_all(
               lambda a, b: cross_encoder.score_length_sorted(
                   score, a, b, BATCH, cross_encoder.pair_token_lengths(model, a, b)), queries, titles)}
    return out


def profile_torch(args) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import CrossEncoder

    from benchmarks.torch_cross_encoder import minilm_dir

    queries, titles = _pairs(args.batches)
    model = CrossEncoder(str(minilm_dir()), num_labels=1, max_length=128, local_files_only=True, device="cpu")
    tok = model.tokenizer
    predict = lambda a, b: model.predict(list(zip(a, b)), batch_size=BATCH, show_progress_bar=False)  # noqa: E731
    return {"threads": torch.get_num_threads(), "load": os.getloadavg()[0],
            "tokenize_pair_per_s": _rate(lambda a, b: tok(a, b, padding=True, truncation="longest_first",
                                                         max_length=128, return_tensors="pt"), queries, titles),
            "score_per_s": _rate(predict, queries, titles),
            "predict_all_per_s": _rate_all(predict, queries, titles)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--intra", type=int, default=0)
    parser.add_argument("--inter", type=int, default=0)
    parser.add_argument("--encoder", default=None, help="encoder SavedModel (default: the project's export)")
    parser.add_argument("--torch", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the benchmark's reference: 2)")
    args = parser.parse_args()
    print(json.dumps(profile_torch(args) if args.torch else profile_tf(args)))


if __name__ == "__main__":
    main()
