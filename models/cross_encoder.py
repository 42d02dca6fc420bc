"""Cross-encoder ranker: a pretrained text encoder fine-tuned on (query, product title) pairs.

The pair is read by the encoder as one sequence ("[CLS] query [SEP] title [SEP]"), so every query token
attends to every title token; the [CLS] state (or the mean of the token states, hparams["pooling"]) goes
through dropout and one Dense unit to a relevance score (a logit; higher ranks first).

Public API (also used by the benchmarks):
  DEFAULT_HPARAMS                              every knob, documented below
  build_cross_encoder(encoder_handle, hparams) -> tf_keras.Model  {"query": [B], "product_title": [B]} -> [B]
  compile_cross_encoder(model, hparams, total_steps)  AdamW + warm-up/decay schedule + pointwise/listwise loss
  WarmupDecaySchedule                          linear warm-up, then linear or cosine decay
  build_lists(query_ids, queries, titles, labels, list_size)  rows -> padded per-query lists + mask
  listwise_softmax_loss / ListwiseSoftmaxLoss  ListNet: softmax cross-entropy against the per-list gains
  margin_mse_loss / MarginDistillationLoss     per-pair sigmoid cross-entropy + Margin-MSE on logits, per list
  ListwiseRanker(scorer)                       wraps the pair scorer to score padded lists [Q, L]
  strategy_for_devices()                       tf.distribute strategy + mixed precision policy per device
  early_stopping(patience)                     stops on the eval split's loss, restores the best weights
  TrainingLogger(every_n_steps)                progress log: step, loss, learning rate, eval loss

Encoder handles: the name of one of our exports (models.encoder.EXPORTERS: "all-MiniLM-L6-v2", None too, or
"multilingual-e5-small"; exported to .cache/encoders/ on first use); any local path, TF Hub or Kaggle handle that
hub.KerasLayer loads works if it follows one of two conventions (hparams["encoder_interface"]):
  "text_pair" (default): raw strings in, tokenisation inside the encoder, like our export:
      __call__({"text_a": [B] string, "text_b": [B] string}) -> {"pooled_output": [B, H], "mean_pooled": [B, H]}
  "bert_preprocessor": the TF Hub BERT convention, encoder and preprocessor are two SavedModels;
      hparams["preprocessor_handle"] names the preprocessor (tokenize(texts) and
      bert_pack_inputs([tokens_a, tokens_b], seq_length)), the encoder takes
      {"input_word_ids", "input_mask", "input_type_ids"} and returns "pooled_output" / "sequence_output".
      (Mean pooling is computed from sequence_output and input_mask.)
Either way the tokeniser is part of the Keras graph, so the exported ranker takes raw strings. SavedModels
with tensorflow-text ops (both conventions use them) load only after `import tensorflow_text`.
"""
import logging
import time
import math
from typing import Any, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  registers the tokeniser ops the encoder SavedModels use
import tf_keras as keras

from models import features

logger = logging.getLogger(__name__)

CROSS_ENCODER = "cross_encoder"
BAG_OF_WORDS = "bag_of_words"
POINTWISE, LISTWISE = "pointwise", "listwise"
# Distillation on lists: sigmoid cross-entropy per pair (keeps the score a calibrated logit) plus Margin-MSE
# on the score differences within each list against the label's (teacher's) logit differences.
MARGIN_MSE = "pointwise_margin_mse"
LIST_LOSSES = (LISTWISE, MARGIN_MSE)  # the losses trained on per-query lists (ListwiseRanker)
TEXT_PAIR, BERT_PREPROCESSOR = "text_pair", "bert_preprocessor"

# Inputs of the pair scorer: the raw strings, [batch] each (one pair per row, no trailing dimension).
INPUT_NAMES = (features.QUERY, features.PRODUCT_TITLE)
# Listwise batches: query [Q] (one per list), product_title [Q, L], label [Q, L] with padding = PAD_LABEL.
LIST_MASK = "list_mask"
PAD_LABEL = -1.0

DEFAULT_HPARAMS: Dict[str, Any] = {
    # Which ranker the Trainer builds: "cross_encoder" (this module) or "bag_of_words" (models/model.py).
    "model": CROSS_ENCODER,
    # Encoder: None = our exported all-MiniLM-L6-v2; else a local path, TF Hub or Kaggle handle.
    "encoder_handle": None,
    # "text_pair" (strings in, like our export) or "bert_preprocessor" (TF Hub BERT: separate preprocessor).
    "encoder_interface": TEXT_PAIR,
    "preprocessor_handle": None,  # only for "bert_preprocessor"
    "max_seq_length": 128,  # only for "bert_preprocessor" (our export truncates pairs to 128 itself)
    # Pair representation fed to the head: "cls" (pooled_output, the [CLS] state) or "mean" (mean_pooled).
    "pooling": "cls",
    "dropout": 0.1,  # on the pooled representation, before the scoring Dense
    # Also feed the head the lexical overlap of the pair (share of distinct query tokens found in the title;
    # words for Latin text, single characters for Chinese: models.preprocessing.tokenize), computed in-graph
    # from the same raw strings. It carries the Chinese queries, whose characters are mostly [UNK] in the
    # English encoder's WordPiece vocabulary.
    "lexical_overlap": False,
    # Optimiser: AdamW, peak learning rate reached after warm-up, then decayed to end_learning_rate_fraction.
    "learning_rate": 5e-5,
    "warmup_fraction": 0.1,  # share of the total steps spent warming up linearly from 0
    "decay": "linear",  # "linear" or "cosine" decay after warm-up
    "end_learning_rate_fraction": 0.0,  # final learning rate as a share of the peak
    "weight_decay": 0.01,  # decoupled (AdamW); not applied to biases and LayerNorm scales/offsets
    "clip_norm": 1.0,  # global gradient-norm clipping (None: off)
    # Loss: "pointwise" (each pair against its normalised gain in [0, 1]), "listwise" (ListNet per query), or
    # "pointwise_margin_mse" (per-query lists: sigmoid cross-entropy per pair + margin_weight x Margin-MSE of
    # the score differences against the labels' logit differences, the labels clipped to [margin_label_epsilon,
    # 1 - margin_label_epsilon]; Hofstaetter et al. 2020: a student learns the teacher's ordering from margins).
    "loss": POINTWISE,
    "margin_weight": 1.0,
    "margin_label_epsilon": 0.01,
    "pointwise_loss": "sigmoid_cross_entropy",  # or "mse" (the score then regresses the gain directly)
    # Batching and length: batch_size pairs per step (pointwise) / lists_per_batch queries per step
    # (listwise, each padded to list_size titles; longer lists are split into chunks of list_size).
    "batch_size": 16,
    "list_size": 16,
    "lists_per_batch": 2,
    # Training length: the Trainer's train steps where set (TrainArgs.num_steps, `--train-steps`), else
    # train_epochs passes over the rows of the train split it gets (so the length follows the data: the
    # teacher's few labels, or labels plus every teacher-graded pair). Eval: the Trainer's eval steps where
    # set, else one pass over the eval split.
    "train_epochs": 3.0,
    # Two stages (Noisy Student / GPL order): > 0 trains first on the teacher-labelled rows only (origin not
    # "labelled"; train_epochs over them), then on the gold labelled rows for this many epochs, each stage with
    # its own warm-up/decay and early stopping. 0: one stage over every row. A train split without
    # teacher-labelled rows (the teacher, --no-augmentation) always trains in one stage.
    "gold_stage_epochs": 0.0,
    # The train steps are split into `epochs` rounds; the eval split is scored after each round, which is
    # what early stopping watches (patience in rounds; 0 or None: no early stopping).
    "epochs": 4,
    "early_stopping_patience": 2,
    "log_every_n_steps": 10,  # TrainingLogger's period
    # The served score: the fine-tuned score alone (0), or its gain in an ensemble with the frozen pretrained
    # encoder's zero-shot cosine at this weight (models/zero_shot.py; the Trainer calibrates the cosine on
    # its train split's labelled rows). Needs a pointwise loss and an encoder with `embed` (our exports).
    "zero_shot_weight": 0.0,
    "seed": 42,
}


def score_meaning(hparams: Optional[Dict[str, Any]] = None) -> str:
    """What the score of a model trained with these hparams means: "logit" (sigmoid cross-entropy: the
    normalised gain is sigmoid(score)), "gain" (mse regresses the gain itself) or "order" (listwise: only
    the order of one query's products). A teacher giving soft labels needs one of the first two."""
    hp = hparams_with_defaults(hparams)
    if hp["loss"] == LISTWISE:
        return "order"
    if hp["loss"] == MARGIN_MSE:
        return "logit"
    return "logit" if hp["pointwise_loss"] == "sigmoid_cross_entropy" else "gain"


def hparams_with_defaults(hparams: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """DEFAULT_HPARAMS overridden by hparams; unknown keys are kept (callers may carry their own)."""
    return {**DEFAULT_HPARAMS, **(hparams or {})}


# ---------------------------------------------------------------------------------------------- model


def resolve_encoder_handle(encoder_handle: Optional[str] = None) -> str:
    """The handle to load: the default dir of our export of that name (models.encoder.EXPORTERS, exported
    there if missing; None: all-MiniLM-L6-v2), or encoder_handle itself (a path, TF Hub or Kaggle handle).
    A name rather than a path keeps a compiled pipeline free of the compiling machine's paths."""
    from models import encoder

    if encoder_handle and str(encoder_handle) not in encoder.EXPORTERS:
        return str(encoder_handle)
    exporter = encoder.exporter(encoder_handle or encoder.DEFAULT_ENCODER)
    return exporter.export_encoder(exporter.default_export_dir())  # returns at once when the export is current


def _text_pair_encoder(handle: str, hp: Dict[str, Any]):
    layer = hub.KerasLayer(handle, trainable=True, name="encoder", dtype="float32")

    def encode(query, title):
        outputs = layer({"text_a": query, "text_b": title})
        return outputs["pooled_output" if hp["pooling"] == "cls" else "mean_pooled"]
    return encode


def _bert_preprocessor_encoder(handle: str, hp: Dict[str, Any]):
    if not hp.get("preprocessor_handle"):
        raise ValueError('encoder_interface "bert_preprocessor" needs hparams["preprocessor_handle"]')
    preprocessor = hub.load(hp["preprocessor_handle"])
    tokenize = hub.KerasLayer(preprocessor.tokenize, name="tokenize")
    pack = hub.KerasLayer(preprocessor.bert_pack_inputs, name="pack_inputs",
                          arguments={"seq_length": int(hp["max_seq_length"])})
    layer = hub.KerasLayer(handle, trainable=True, name="encoder", dtype="float32")

    def encode(query, title):
        encoder_inputs = pack([tokenize(query), tokenize(title)])
        outputs = layer(encoder_inputs)
        if hp["pooling"] == "cls":
            return outputs["pooled_output"]
        mask = tf.cast(encoder_inputs["input_mask"], tf.float32)[:, :, tf.newaxis]
        sequence = outputs["sequence_output"]
        return tf.reduce_sum(sequence * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
    return encode


@keras.utils.register_keras_serializable(package="search_relevance")
class TokenOverlap(keras.layers.Layer):
    """[query [B], title [B]] strings -> [B, 1] float32: share of distinct query tokens in the title."""

    def call(self, inputs):
        from models import preprocessing  # tf.strings ops only, at training and serving time alike
        query, title = inputs
        overlap = preprocessing.token_overlap(preprocessing.tokenize(query), preprocessing.tokenize(title))
        return tf.reshape(overlap, [-1, 1])

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0][0], 1])


def build_cross_encoder(encoder_handle: Optional[str] = None,
                        hparams: Optional[Dict[str, Any]] = None) -> keras.Model:
    """The pair scorer (not compiled): {"query": [B] string, "product_title": [B] string} -> "score" [B].

    The score is float32 whatever the mixed precision policy. encoder_handle (else hparams["encoder_handle"],
    else our export) is loaded with hub.KerasLayer(trainable=True): the encoder is fine-tuned.
    """
    hp = hparams_with_defaults(hparams)
    if hp["pooling"] not in ("cls", "mean"):
        raise ValueError(f"pooling must be 'cls' or 'mean', not {hp['pooling']!r}")
    handle = resolve_encoder_handle(encoder_handle or hp.get("encoder_handle"))
    interfaces = {TEXT_PAIR: _text_pair_encoder, BERT_PREPROCESSOR: _bert_preprocessor_encoder}
    if hp["encoder_interface"] not in interfaces:
        raise ValueError(f"encoder_interface must be one of {sorted(interfaces)}")
    encode = interfaces[hp["encoder_interface"]](handle, hp)

    query = keras.Input(shape=(), dtype=tf.string, name=features.QUERY)
    title = keras.Input(shape=(), dtype=tf.string, name=features.PRODUCT_TITLE)
    pooled = encode(query, title)
    pooled = keras.layers.Dropout(hp["dropout"], seed=hp["seed"], name="head_dropout")(pooled)
    if hp["lexical_overlap"]:
        overlap = TokenOverlap(name="token_overlap")([query, title])
        pooled = keras.layers.Concatenate(name="pair_features")([pooled, tf.cast(overlap, pooled.dtype)])
    logit = keras.layers.Dense(1, dtype="float32", name="score_dense",
                               kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02, seed=hp["seed"]))(
        pooled)
    score = keras.layers.Reshape([], dtype="float32", name=features.SCORE)(logit)
    model = keras.Model(inputs={features.QUERY: query, features.PRODUCT_TITLE: title}, outputs=score,
                        name=CROSS_ENCODER)
    model.encoder_handle = handle  # plain attribute, for logs
    return model


def score_length_sorted(score_fn, queries: Sequence[str], titles: Sequence[str], batch_size: int = 64,
                        lengths: Optional[Sequence[int]] = None, columns: int = 0) -> np.ndarray:
    """score_fn(query [B], title [B]) -> [B] run on batches of similar length, longest first; the scores come
    back in the input order. Each batch is padded to its longest pair: in file order the Home Depot dev pairs
    carry 1.85 padded tokens per real one, 1.50 sorted by characters (the key sentence-transformers'
    CrossEncoder.predict sorts by, and the default here), 1.01 sorted by pair_token_lengths.
    columns > 0: score_fn returns [B, columns] (several outputs per pair), and so does this, [N, columns]."""
    if lengths is None:
        lengths = [len(query) + len(title) for query, title in zip(queries, titles)]
    order = np.argsort(-np.asarray(lengths), kind="stable")
    shape = (columns,) if columns else ()
    scores = np.empty((len(order),) + shape, np.float32)
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        batch = score_fn(tf.constant([queries[i] for i in index]), tf.constant([titles[i] for i in index]))
        scores[index] = np.reshape(batch, (len(index),) + shape)
    return scores


def pair_token_lengths(model: keras.Model, queries: Sequence[str], titles: Sequence[str],
                       batch_size: int = 1024) -> np.ndarray:
    """Tokens of each "[CLS] query [SEP] title [SEP]" as the model's text_pair encoder cuts it (its own
    tokenize_pair: about 1% of the time scoring takes, for half the padding of a sort by characters)."""
    tokenize_pair = model.get_layer("encoder").resolved_object.tokenize_pair
    lengths = [tf.reduce_sum(tokenize_pair(tf.constant(queries[i:i + batch_size]),
                                           tf.constant(titles[i:i + batch_size]))["input_mask"], axis=1)
               for i in range(0, len(queries), batch_size)]
    return np.concatenate([length.numpy() for length in lengths]) if lengths else np.zeros([0], np.int64)


# ------------------------------------------------------------------------------------------- schedule


@keras.utils.register_keras_serializable(package="search_relevance")
class WarmupDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> peak linearly over warmup_steps, then peak -> end linearly or on a half cosine by total_steps.

    lr(step) for step in [0, warmup): peak * (step + 1) / warmup   (the first update is not at lr 0)
             for step in [warmup, total]: end + (peak - end) * d(p), p = (step - warmup) / (total - warmup),
             d(p) = 1 - p (linear) or (1 + cos(pi p)) / 2 (cosine); after total_steps: end.
    """

    def __init__(self, peak_learning_rate: float, total_steps: int, warmup_steps: int,
                 end_learning_rate: float = 0.0, decay: str = "linear", name: str = "warmup_decay"):
        super().__init__()
        if decay not in ("linear", "cosine"):
            raise ValueError(f"decay must be 'linear' or 'cosine', not {decay!r}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = min(max(int(warmup_steps), 0), self.total_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.decay = decay
        self.name = name

    def __call__(self, step):
        with tf.name_scope(self.name):
            step = tf.cast(step, tf.float32)
            peak, end = self.peak_learning_rate, self.end_learning_rate
            warmup = float(self.warmup_steps)
            decay_steps = float(max(self.total_steps - self.warmup_steps, 1))
            warm = peak * tf.minimum((step + 1.0) / max(warmup, 1.0), 1.0)
            progress = tf.clip_by_value((step - warmup) / decay_steps, 0.0, 1.0)
            if self.decay == "linear":
                shape = 1.0 - progress
            else:
                shape = 0.5 * (1.0 + tf.cos(math.pi * progress))
            decayed = end + (peak - end) * shape
            return tf.where(step < warmup, warm, decayed)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "end_learning_rate": self.end_learning_rate,
                "decay": self.decay, "name": self.name}


def learning_rate_schedule(hparams: Dict[str, Any], total_steps: int) -> WarmupDecaySchedule:
    hp = hparams_with_defaults(hparams)
    return WarmupDecaySchedule(
        peak_learning_rate=hp["learning_rate"], total_steps=total_steps,
        warmup_steps=int(round(hp["warmup_fraction"] * total_steps)),
        end_learning_rate=hp["learning_rate"] * hp["end_learning_rate_fraction"], decay=hp["decay"])


# ----------------------------------------------------------------------------------------------- losses


@keras.utils.register_keras_serializable(package="search_relevance")
class PointwiseLoss(keras.losses.Loss):
    """Each pair's score against its normalised gain in [0, 1]: sigmoid cross-entropy on the score as a
    logit (soft labels), or mean squared error on the score itself. y_true, y_pred: [B]."""

    def __init__(self, kind: str = "sigmoid_cross_entropy", name: str = "pointwise_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if kind not in ("sigmoid_cross_entropy", "mse"):
            raise ValueError(f"pointwise_loss must be 'sigmoid_cross_entropy' or 'mse', not {kind!r}")
        self.kind = kind

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.cast(y_pred, tf.float32)
        if self.kind == "mse":
            return tf.square(y_pred - y_true)
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def listwise_softmax_loss(y_true, y_pred):
    """ListNet loss per list: -sum_i p_i log softmax(s)_i over the list's valid items, p_i = g_i / sum_j g_j.

    y_true: [Q, L] gains (>= 0) with PAD_LABEL (< 0) on padding; y_pred: [Q, L] scores. Padding takes no
    part in the softmax. A list without any positive gain has no target distribution: its loss is 0.
    Returns [Q].
    """
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    valid = y_true >= 0.0
    gains = tf.where(valid, y_true, 0.0)
    total = tf.reduce_sum(gains, axis=-1, keepdims=True)
    target = tf.math.divide_no_nan(gains, total)
    # Padding's score -> a very negative number, so it gets no probability mass (and finite log-probs).
    logits = tf.where(valid, y_pred, tf.float32.min / 2.0)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_sum(tf.where(valid, target * log_probs, 0.0), axis=-1)


def margin_mse_loss(y_true, y_pred, epsilon: float = 0.01):
    """Margin-MSE per list on logits: the mean over the list's valid ordered pairs (i, j), i != j, of
    ((s_i - s_j) - (t_i - t_j))^2, t_i = logit(clip(g_i, epsilon, 1 - epsilon)) of the label's gain.

    y_true: [Q, L] gains in [0, 1] with PAD_LABEL (< 0) on padding; y_pred: [Q, L] scores (logits). On the
    logits, not on sigmoid outputs: a margin between two saturated sigmoids says nothing. A list with fewer
    than 2 valid items has no pair: its loss is 0. Returns [Q].
    """
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    valid = y_true >= 0.0
    gains = tf.clip_by_value(tf.where(valid, y_true, 0.5), epsilon, 1.0 - epsilon)
    target = tf.math.log(gains) - tf.math.log1p(-gains)
    pairs = tf.logical_and(valid[:, :, tf.newaxis], valid[:, tf.newaxis, :])
    pairs = tf.logical_and(pairs, tf.logical_not(tf.eye(tf.shape(y_true)[1], dtype=tf.bool))[tf.newaxis])
    def differences(x):  # [Q, L] -> [Q, L, L]: x_i - x_j
        return x[:, :, tf.newaxis] - x[:, tf.newaxis, :]
    error = differences(y_pred) - differences(target)
    total = tf.reduce_sum(tf.where(pairs, tf.square(error), 0.0), axis=[1, 2])
    return tf.math.divide_no_nan(total, tf.reduce_sum(tf.cast(pairs, tf.float32), axis=[1, 2]))


def list_pointwise_loss(y_true, y_pred):
    """Sigmoid cross-entropy of each valid item's score (a logit) against its gain, mean per list. [Q]."""
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    valid = y_true >= 0.0
    losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.where(valid, y_true, 0.0), logits=y_pred)
    return tf.math.divide_no_nan(tf.reduce_sum(tf.where(valid, losses, 0.0), axis=-1),
                                 tf.reduce_sum(tf.cast(valid, tf.float32), axis=-1))


@keras.utils.register_keras_serializable(package="search_relevance")
class MarginDistillationLoss(keras.losses.Loss):
    """list_pointwise_loss + margin_weight x margin_mse_loss, mean over the batch's lists."""

    def __init__(self, margin_weight: float = 1.0, epsilon: float = 0.01, name: str = "margin_distillation_loss",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if margin_weight < 0 or not 0 < epsilon < 0.5:
            raise ValueError(f"margin_weight must be >= 0 and margin_label_epsilon in (0, 0.5), not "
                             f"{margin_weight} and {epsilon}")
        self.margin_weight, self.epsilon = float(margin_weight), float(epsilon)

    def call(self, y_true, y_pred):
        return list_pointwise_loss(y_true, y_pred) + self.margin_weight * margin_mse_loss(y_true, y_pred, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "margin_weight": self.margin_weight, "epsilon": self.epsilon}


@keras.utils.register_keras_serializable(package="search_relevance")
class ListwiseSoftmaxLoss(keras.losses.Loss):
    """listwise_softmax_loss as a Keras loss (mean over the batch's lists)."""

    def __init__(self, name: str = "listwise_softmax_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return listwise_softmax_loss(y_true, y_pred)


# ------------------------------------------------------------------------------------------- listwise


def build_lists(query_ids: Sequence, queries: Sequence, titles: Sequence, labels: Sequence,
                list_size: int, drop_lists_without_gain: bool = True,
                seed: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Groups (query_id, query, title, label) rows into padded per-query lists.

    Rows of one query_id keep their order (or are shuffled with `seed`, so chunks mix grades); a query with
    more than list_size rows is split into ceil(n / list_size) lists. Lists whose gains are all 0 carry no
    ListNet target and are dropped unless drop_lists_without_gain=False. Queries come in order of first
    appearance.

    Returns {"query_id": [Q], "query": [Q] (one per list), "product_title": [Q, L] ("" on padding),
             "label": [Q, L] (PAD_LABEL on padding), "list_mask": [Q, L] bool}, L = list_size.
    """
    if list_size < 1:
        raise ValueError("list_size must be >= 1")
    rows_by_query: Dict[Any, list] = {}
    for row, query_id in enumerate(query_ids):
        rows_by_query.setdefault(query_id, []).append(row)
    rng = np.random.default_rng(seed) if seed is not None else None
    out = {"query_id": [], "query": [], features.PRODUCT_TITLE: [], features.LABEL: [], LIST_MASK: []}
    for query_id, rows in rows_by_query.items():
        if rng is not None:
            rows = list(rng.permutation(rows))
        for start in range(0, len(rows), list_size):
            chunk = rows[start:start + list_size]
            gains = [float(labels[r]) for r in chunk]
            if drop_lists_without_gain and not any(g > 0 for g in gains):
                continue
            pad = list_size - len(chunk)
            out["query_id"].append(query_id)
            out["query"].append(queries[chunk[0]])
            out[features.PRODUCT_TITLE].append([titles[r] for r in chunk] + [""] * pad)
            out[features.LABEL].append(gains + [PAD_LABEL] * pad)
            out[LIST_MASK].append([True] * len(chunk) + [False] * pad)
    return {"query_id": np.asarray(out["query_id"], dtype=object),
            features.QUERY: np.asarray(out["query"], dtype=object),
            features.PRODUCT_TITLE: np.asarray(out[features.PRODUCT_TITLE], dtype=object).reshape(-1, list_size),
            features.LABEL: np.asarray(out[features.LABEL], dtype=np.float32).reshape(-1, list_size),
            LIST_MASK: np.asarray(out[LIST_MASK], dtype=bool).reshape(-1, list_size)}


def lists_dataset(lists: Dict[str, np.ndarray], lists_per_batch: int, shuffle: bool = True,
                  seed: Optional[int] = None, repeat: bool = True) -> tf.data.Dataset:
    """(inputs, label) batches for ListwiseRanker: inputs {"query" [Q], "product_title" [Q, L], "list_mask"}."""
    inputs = {features.QUERY: tf.constant(lists[features.QUERY].astype(str).tolist(), tf.string),
              features.PRODUCT_TITLE: tf.constant(lists[features.PRODUCT_TITLE].astype(str).tolist(),
                                                  tf.string),
              LIST_MASK: tf.constant(lists[LIST_MASK])}
    dataset = tf.data.Dataset.from_tensor_slices((inputs, tf.constant(lists[features.LABEL])))
    if shuffle:
        dataset = dataset.shuffle(len(lists[features.LABEL]), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(lists_per_batch)


class ListwiseRanker(keras.Model):
    """Scores padded lists with a pair scorer: {"query" [Q], "product_title" [Q, L], "list_mask" [Q, L]}
    -> scores [Q, L] (0 on padding). Only the valid pairs go through the scorer. Export the scorer."""

    def __init__(self, scorer: keras.Model, **kwargs):
        super().__init__(name=kwargs.pop("name", "listwise_ranker"), **kwargs)
        self.scorer = scorer

    def call(self, inputs, training=None):
        titles = inputs[features.PRODUCT_TITLE]
        mask = tf.cast(inputs[LIST_MASK], tf.bool)
        queries = tf.broadcast_to(tf.expand_dims(inputs[features.QUERY], -1), tf.shape(titles))
        positions = tf.where(mask)
        scores = self.scorer({features.QUERY: tf.gather_nd(queries, positions),
                              features.PRODUCT_TITLE: tf.gather_nd(titles, positions)}, training=training)
        return tf.scatter_nd(positions, tf.cast(scores, tf.float32), tf.shape(titles, out_type=tf.int64))


# ------------------------------------------------------------------------------------------- compile


def make_optimizer(hparams: Dict[str, Any], total_steps: int) -> keras.optimizers.Optimizer:
    hp = hparams_with_defaults(hparams)
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate_schedule(hp, total_steps), weight_decay=hp["weight_decay"],
        epsilon=1e-6, global_clipnorm=hp["clip_norm"])
    # Decoupled weight decay on weight matrices and embeddings only (BERT's convention).
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "LayerNorm", "layer_norm"])
    return optimizer


def compile_cross_encoder(model: keras.Model, hparams: Optional[Dict[str, Any]] = None,
                          total_steps: int = 1000) -> keras.Model:
    """Compiles model (the pair scorer for "pointwise", a ListwiseRanker for LIST_LOSSES) with AdamW under
    the warm-up/decay schedule over total_steps and the loss hparams["loss"]. Returns the model."""
    hp = hparams_with_defaults(hparams)
    if hp["loss"] == POINTWISE:
        loss = PointwiseLoss(hp["pointwise_loss"])
    elif hp["loss"] == LISTWISE:
        loss = ListwiseSoftmaxLoss()
    elif hp["loss"] == MARGIN_MSE:
        loss = MarginDistillationLoss(float(hp["margin_weight"]), float(hp["margin_label_epsilon"]))
    else:
        raise ValueError(f"loss must be {POINTWISE!r}, {LISTWISE!r} or {MARGIN_MSE!r}, not {hp['loss']!r}")
    model.compile(optimizer=make_optimizer(hp, total_steps), loss=loss)
    return model


def current_learning_rate(optimizer) -> float:
    """The learning rate the next update uses (schedules evaluated at the optimizer's step)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer under mixed_float16
    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return float(schedule(optimizer.iterations))
    return float(keras.backend.get_value(optimizer.learning_rate))


# ----------------------------------------------------------------------------------- devices, callbacks


def strategy_for_devices() -> tf.distribute.Strategy:
    """The strategy for the visible devices, and the matching global Keras dtype policy (side effect).

    >1 GPU: MirroredStrategy over them, policy mixed_float16; 1 GPU: OneDeviceStrategy("/gpu:0"),
    mixed_float16; no GPU: the default strategy, float32. The cross-encoder's score layer is float32
    under any policy; the encoder SavedModel runs in the dtype it was exported with (float32 for ours), so
    on GPU mixed precision speeds up the head only unless the encoder was exported for float16.
    Call it before building the model, and build and compile inside `with strategy.scope():`.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    elif len(gpus) == 1:
        strategy = tf.distribute.OneDeviceStrategy("/gpu:0")
    else:
        strategy = tf.distribute.get_strategy()
    keras.mixed_precision.set_global_policy("mixed_float16" if gpus else "float32")
    logger.info("Devices: %d GPU(s); strategy %s, %d replica(s); dtype policy %s", len(gpus),
                 type(strategy).__name__, strategy.num_replicas_in_sync,
                 keras.mixed_precision.global_policy().name)
    return strategy


class BestEvalLossStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping on val_loss that restores the best round's weights at the end and logs what it did."""

    def __init__(self, patience: int, monitor: str = "val_loss", min_delta: float = 0.0):
        super().__init__(monitor=monitor, patience=patience, min_delta=min_delta, mode="min",
                         restore_best_weights=True, verbose=0)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            logger.info("Early stopping after round %d: %s did not improve for %d round(s)",
                         self.stopped_epoch + 1, self.monitor, self.patience)
        if self.best_weights is not None:
            logger.info("Restoring the weights of round %d (best %s %.5f)", self.best_epoch + 1,
                         self.monitor, self.best)
        super().on_train_end(logs)


def early_stopping(patience: int, monitor: str = "val_loss") -> BestEvalLossStopping:
    return BestEvalLossStopping(patience=patience, monitor=monitor)


class TrainingLogger(keras.callbacks.Callback):
    """Logs step, running loss and learning rate every n steps, and the eval loss after each round."""

    def __init__(self, every_n_steps: int = 10, total_steps: Optional[int] = None):
        super().__init__()
        self.every_n_steps = max(int(every_n_steps), 1)
        self.total_steps = total_steps
        self._step = 0
        self._round_start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._round_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every_n_steps == 0 or self._step == self.total_steps:
            of = f"/{self.total_steps}" if self.total_steps else ""
            logger.info("step %d%s  loss %.5f  lr %.3g", self._step, of, (logs or {}).get("loss", float("nan")),
                         current_learning_rate(self.model.optimizer))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self._round_start if self._round_start else float("nan")
        logger.info("round %d done at step %d (%.1f s): loss %.5f, eval loss %s", epoch + 1, self._step,
                     elapsed, logs.get("loss", float("nan")),
                     f"{logs['val_loss']:.5f}" if "val_loss" in logs else "n/a")
