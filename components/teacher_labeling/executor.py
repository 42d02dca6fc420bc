"""TeacherLabeling executor: the teacher scores every candidate, filtering.py decides, the report explains.

Writes the training data of the student: split `train` = the labelled train rows (origin labelled, weight 1)
plus the kept candidates (soft label, weight by origin); split `eval` = the labelled eval rows, untouched.
The candidates are Retrieval's and, where the pipeline has search traffic, every impression (origin traffic).
"""
import dataclasses
import logging
import os
import threading
import time
import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence

import apache_beam as beam
import numpy as np
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import examples_io
from components.augmentation import report as report_lib
from components.query_generation.sanitize import normalise
from components.teacher_labeling import filtering, report_page
from models import features, zero_shot

TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"
HEADLINE = ("candidates_in", "kept", "rejected", "labelled_train_rows")  # also MLMD custom properties
_BATCH = 64
# Candidates per scoring call, scored in batches of _BATCH pairs of similar length (less padding).
_SCORE_CHUNK = 16 * _BATCH
_PROGRESS_EVERY = 8 * _SCORE_CHUNK  # a progress line per 8,192 candidates a worker scores


# {handle: TextEncoder} of this process, alive while a DoFn holds it: the DoFns that embed share one copy (a
# multilingual export is ~490 MB) and it is freed with them (Beam's Shared would keep it after the run).
_ENCODERS = weakref.WeakValueDictionary()
_ENCODERS_LOCK = threading.Lock()


def _load_encoder(handle: str):
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(handle)
        if encoder is None:
            from components.retrieval.embedding import TextEncoder  # loads TensorFlow Text on the worker
            encoder = _ENCODERS[handle] = TextEncoder(handle, _BATCH)
        return encoder


class _Score(beam.DoFn):
    """Adds the teacher's label (zero_shot.ensemble_gain) and the query's similarity to the nearest eval query
    to each candidate."""

    def __init__(self, teacher_dir: str, encoder_handle: str, settings: filtering.Settings):
        super().__init__()
        self._teacher_dir, self._encoder_handle, self._settings = teacher_dir, encoder_handle, settings
        self._eval_vectors = None
        self._scored, self._started = 0, None

    def setup(self):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (the teacher's tokeniser ops)
        from models.cross_encoder import score_length_sorted
        self._score = tf.saved_model.load(self._teacher_dir).signatures["score_text"]
        self._score_length_sorted = score_length_sorted
        self._encoder = _load_encoder(self._encoder_handle)

    def process(self, batch: List[dict], eval_vectors: List[np.ndarray], calibration: zero_shot.Calibration):
        if self._eval_vectors is None:
            self._eval_vectors = np.stack(eval_vectors) if eval_vectors else np.zeros((0, 1), np.float32)
        self._started = self._started or time.perf_counter()
        scores = self._score_length_sorted(self._teacher_scores, [r[features.QUERY] for r in batch],
                                           [r[features.PRODUCT_TITLE] for r in batch], _BATCH)
        yield from annotate(batch, scores, self._settings, self._encoder, self._eval_vectors, calibration)
        before, self._scored = self._scored, self._scored + len(batch)
        if before // _PROGRESS_EVERY != self._scored // _PROGRESS_EVERY:  # a line a person can follow
            seconds = time.perf_counter() - self._started
            logging.info("TeacherLabeling: %d candidates scored by this worker (%.0f pairs/s)", self._scored,
                         self._scored / max(seconds, 1e-9))

    def _teacher_scores(self, queries, titles):
        return self._score(**{features.QUERY: queries, features.PRODUCT_TITLE: titles})[features.SCORE]


def pair_cosines(encoder, rows: Sequence[Mapping],
                 query_vectors: Optional[Mapping[str, np.ndarray]] = None) -> np.ndarray:
    """The zero-shot cosine of each row's query and product title (each distinct text embedded once);
    query_vectors: the rows' query embeddings if the caller has them already."""
    if not rows:
        return np.zeros(0, np.float32)
    if query_vectors is None:
        query_vectors = embed_queries(encoder, rows)
    titles = sorted({r[features.PRODUCT_TITLE] for r in rows})
    title_vectors = dict(zip(titles, encoder.embed_passages(titles)))
    return np.array([float(query_vectors[r[features.QUERY]] @ title_vectors[r[features.PRODUCT_TITLE]])
                     for r in rows])


def embed_queries(encoder, rows: Sequence[Mapping]) -> Dict[str, np.ndarray]:
    """{query: embedding} of the rows' distinct queries."""
    queries = sorted({r[features.QUERY] for r in rows})
    return dict(zip(queries, encoder.embed(queries))) if queries else {}


def calibrate(encoder, labelled_train: Sequence[Mapping]) -> zero_shot.Calibration:
    """The zero-shot cosine's calibration to the gain scale, fitted on the labelled train rows."""
    gains = [float(features.normalised_gain(r[features.RELEVANCE])) for r in labelled_train]
    return zero_shot.fit_calibration(pair_cosines(encoder, labelled_train).tolist(), gains)


def annotate(rows: Sequence[dict], teacher_scores: Sequence[float], settings: filtering.Settings, encoder,
             eval_vectors: np.ndarray, calibration: Optional[zero_shot.Calibration]) -> List[dict]:
    """The candidates with what filtering.select reads: the teacher's label (its score as a gain,
    filtering.gain_of, in an ensemble with the calibrated zero-shot cosine, zero_shot.ensemble_gain) and the
    cosine of the row's query to the nearest eval query (-1 without eval queries). `encoder` embeds texts (a
    retrieval.embedding.TextEncoder), eval_vectors are the eval queries' [n, d] embeddings; calibration may
    be None only when settings.zero_shot_weight is 0. Each row also keeps both parts of its label."""
    if calibration is None and settings.zero_shot_weight:
        raise ValueError("a zero_shot_weight above 0 needs the zero-shot calibration (calibrate())")
    # Each distinct query is embedded once, for both the eval guard and the zero-shot cosine.
    query_vectors = embed_queries(encoder, rows) if len(eval_vectors) or settings.zero_shot_weight else {}
    nearest_eval = ({query: float((vector @ eval_vectors.T).max()) for query, vector in query_vectors.items()}
                    if len(eval_vectors) else {})
    cosines = (pair_cosines(encoder, rows, query_vectors).tolist() if settings.zero_shot_weight
               else [None] * len(rows))
    annotated = []
    for row, score, cosine in zip(rows, teacher_scores, cosines):
        gain = filtering.gain_of(float(score), settings.teacher_score)
        label = gain if cosine is None else zero_shot.ensemble_gain(gain, cosine, calibration,
                                                                    settings.zero_shot_weight)
        annotated.append({**row, filtering.TEACHER_SCORE: label, filtering.CROSS_ENCODER_GAIN: gain,
                          filtering.ZERO_SHOT_COSINE: cosine,
                          filtering.EVAL_SIMILARITY: nearest_eval.get(row[features.QUERY], -1.0)})
    return annotated


class _Calibrate(beam.DoFn):
    """The zero-shot calibration (calibrate()) from the whole labelled train split; None when the label is
    the cross-encoder's alone (zero_shot_weight 0)."""

    def __init__(self, encoder_handle: str, settings: filtering.Settings):
        super().__init__()
        self._encoder_handle, self._settings = encoder_handle, settings

    def process(self, labelled_train: List[dict]):
        if not self._settings.zero_shot_weight:
            yield None
            return
        calibration = calibrate(_load_encoder(self._encoder_handle), labelled_train)
        logging.info("TeacherLabeling: zero-shot cosine -> gain = %.3f * cosine + %.3f (least squares on %d "
                     "labelled train rows)", calibration.slope, calibration.intercept, calibration.pairs)
        yield calibration


class _EmbedQueries(beam.DoFn):
    def __init__(self, encoder_handle: str):
        super().__init__()
        self._encoder_handle = encoder_handle

    def setup(self):
        self._encoder = _load_encoder(self._encoder_handle)

    def process(self, queries: List[str]):
        yield from self._encoder.embed(queries)


def traffic_candidate(impression: Mapping) -> dict:
    """An impression (a logged query and a product shown for it) as a candidate row of Retrieval's shape."""
    from components.retrieval import candidates as retrieval
    return {**{name: impression[name] for name in features.IMPRESSION_COLUMNS},
            features.ORIGIN: features.ORIGIN_TRAFFIC, retrieval.METHOD: retrieval.IMPRESSION,
            retrieval.SOURCE: "", retrieval.SIMILARITY: 0.0, retrieval.SOURCE_RANK: 0.0}


def _select(_, scored, labelled_train, eval_queries, settings):
    start = time.perf_counter()
    outcome = filtering.select(scored, labelled_train, eval_queries, settings, normalise)
    logging.info("TeacherLabeling: filtered %d candidates in %.1f s", len(scored), time.perf_counter() - start)
    yield outcome


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        start = time.perf_counter()
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        candidates = artifact_utils.get_single_instance(input_dict["candidates"])
        teacher_dir = path_utils.serving_model_path(
            artifact_utils.get_single_instance(input_dict["teacher_model"]).uri)
        output = artifact_utils.get_single_instance(output_dict["augmented_examples"])
        report_artifact = artifact_utils.get_single_instance(output_dict["report"])
        settings = filtering.Settings(**{field.name: field.type(exec_properties[field.name])
                                         for field in dataclasses.fields(filtering.Settings)})
        directories = examples_io.prepare_output(output, [TRAIN_SPLIT, EVAL_SPLIT])

        with self._make_beam_pipeline() as pipeline:
            train = pipeline | "ReadTrain" >> examples_io.ReadRows(examples_io.split_pattern(examples, TRAIN_SPLIT))
            evaluation = pipeline | "ReadEval" >> examples_io.ReadRows(examples_io.split_pattern(examples, EVAL_SPLIT))
            candidate_rows = pipeline | "ReadCandidates" >> examples_io.ReadRows(
                examples_io.split_pattern(candidates, TRAIN_SPLIT))
            if input_dict.get("traffic"):
                traffic = artifact_utils.get_single_instance(input_dict["traffic"])
                traffic_rows = (pipeline | "ReadTraffic" >> examples_io.ReadRows(
                                    examples_io.split_pattern(traffic, TRAIN_SPLIT))
                                | "TrafficCandidates" >> beam.Map(traffic_candidate))
                candidate_rows = (candidate_rows, traffic_rows) | "AllCandidates" >> beam.Flatten()
            eval_queries = (evaluation | "EvalQueries" >> beam.Map(lambda r: r[features.QUERY])
                            | "DistinctEvalQueries" >> beam.Distinct())
            eval_vectors = (eval_queries | "BatchEvalQueries" >> beam.BatchElements(max_batch_size=_BATCH)
                            | "EmbedEvalQueries" >> beam.ParDo(_EmbedQueries(exec_properties["encoder_handle"])))
            calibration = (train | "CollectTrain" >> beam.combiners.ToList()
                           | "Calibrate" >> beam.ParDo(_Calibrate(exec_properties["encoder_handle"], settings)))
            scored = (candidate_rows | "BatchCandidates" >> beam.BatchElements(
                          min_batch_size=_SCORE_CHUNK, max_batch_size=_SCORE_CHUNK)
                      | "Score" >> beam.ParDo(_Score(teacher_dir, exec_properties["encoder_handle"], settings),
                                              beam.pvalue.AsList(eval_vectors), beam.pvalue.AsSingleton(calibration)))
            outcome = (pipeline | "Start" >> beam.Create([None])
                       | "Select" >> beam.FlatMap(_select, beam.pvalue.AsList(scored), beam.pvalue.AsList(train),
                                                  beam.pvalue.AsList(eval_queries), settings))
            labelled = train | "LabelledRows" >> beam.Map(filtering.labelled_row)
            kept = outcome | "Kept" >> beam.FlatMap(lambda o: o.kept)
            _ = ((labelled, kept) | "TrainRows" >> beam.Flatten()
                 | "WriteTrain" >> examples_io.WriteRows(directories[TRAIN_SPLIT]))
            _ = (evaluation | "EvalRows" >> beam.Map(filtering.labelled_row)
                 | "WriteEval" >> examples_io.WriteRows(directories[EVAL_SPLIT]))
            counts = (train | "CountTrain" >> beam.combiners.Count.Globally())
            _ = outcome | "Report" >> beam.Map(
                _write_report, beam.pvalue.AsSingleton(counts), beam.pvalue.AsSingleton(calibration),
                report_artifact, settings, start)
        # Custom properties set inside Beam would land on a pickled copy: set them here, from the file.
        report = report_lib.read_report(report_artifact)
        for name in HEADLINE:
            report_artifact.set_int_custom_property(name, int(report[name]))
        logging.info("%s", report_page.render_text(report))
        logging.info("TeacherLabeling done in %.1f s; report: %s", time.perf_counter() - start, report_artifact.uri)


def _write_report(outcome: filtering.Outcome, labelled_train_rows: int,
                  calibration: Optional[zero_shot.Calibration], report_artifact: types.Artifact,
                  settings: filtering.Settings, start: float) -> None:
    described = {**dataclasses.asdict(settings),
                 "zero_shot_calibration": dataclasses.asdict(calibration) if calibration else None}
    report = report_page.build(outcome, labelled_train_rows, described, time.perf_counter() - start)
    report_lib.write_report(report_artifact, report)
    report_page.write_html(report, os.path.join(report_artifact.uri, report_page.HTML_FILE))
