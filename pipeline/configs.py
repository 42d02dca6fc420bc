"""Every path, name and knob of the pipeline, in one place (feature names: models/features.py)."""
import os
import pathlib

PIPELINE_NAME = "search-relevance"
MODEL_NAME = "search_ranker"  # TF Serving model name: <serving dir>/<MODEL_NAME>/<version>/

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO_ROOT / "schemas"
SAMPLE_DATA_DIR = REPO_ROOT / "data" / "sample"
# Inside a data directory: the judged search log (read by ExampleGen) and the unlabelled catalogue.
SEARCH_LOG_PATTERN = "search_log*.csv"
CATALOG_FILE = "catalog.csv"

# Module code by import path (no module_file): the same references work in a container image.
PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer.run_fn"

# Splits by query id: hash buckets, so a query is wholly in train or wholly in eval.
TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"
SPLIT_BUCKETS = {TRAIN_SPLIT: 3, EVAL_SPLIT: 1}

# Trainer.
TRAIN_STEPS = 300
EVAL_STEPS = 20
TRAINER_HPARAMS = {"batch_size": 32, "embedding_dim": 32, "hidden_units": 32, "learning_rate": 0.01}

# Evaluator (TFMA): ranking metrics per query; blessing needs both thresholds.
NDCG_CUTOFFS = (5, 10)
BLESSING_METRIC_CUTOFF = 10
MIN_NDCG = 0.70  # value threshold on NDCG@10
MAX_NDCG_DROP = 1e-10  # change threshold: NDCG@10 may not fall below the latest blessed model's


def pipeline_root(output_dir: str) -> str:
    return os.path.join(output_dir, "tfx")


def metadata_path(output_dir: str) -> str:
    return os.path.join(output_dir, "metadata.sqlite")


def serving_model_dir(output_dir: str) -> str:
    """Pusher's destination in TF Serving's layout: <this>/<version>/saved_model.pb."""
    return os.path.join(output_dir, "serving", MODEL_NAME)
