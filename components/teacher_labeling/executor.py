"""TeacherLabeling executor: the teacher's views score every candidate (views.py), filtering.py decides, the
report explains.

Writes the training data of the student: split `train` = the labelled train rows (origin labelled, weight 1)
plus the kept candidates (soft label, weight by origin); split `eval` = the labelled eval rows, untouched.
The candidates are Retrieval's and, where the pipeline has search traffic, every impression (origin traffic).
"""
import dataclasses
import json
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import apache_beam as beam
import numpy as np
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import examples_io
from components.augmentation import report as report_lib
from components.query_generation.sanitize import normalise
from components.retrieval.embedding_cache import EMBEDDING_CACHE_KEY
from components.teacher_labeling import filtering, llm_judge, report_page, views
from models import features

TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"
LLM_JUDGE_KEY = "llm_judge"  # JSON object of llm_judge.Settings; "" or absent: no LLM-judge view
HEADLINE = ("candidates_in", "kept", "rejected", "labelled_train_rows")  # also MLMD custom properties
_BATCH = 64
# Candidates per scoring call, scored in batches of _BATCH pairs of similar length (less padding).
_SCORE_CHUNK = 16 * _BATCH
_PROGRESS_EVERY = 8 * _SCORE_CHUNK  # a progress line per 8,192 candidates a worker scores


# {(handle, embedding cache root): TextEncoder} of this process, alive while a DoFn holds it: the DoFns that
# embed share one copy (a multilingual export is ~490 MB) and it is freed with them (Beam's Shared would keep it
# after the run).
_ENCODERS = weakref.WeakValueDictionary()
_ENCODERS_LOCK = threading.Lock()


def _load_view(handle: str, judge: Optional[llm_judge.Settings], cache_root: str = ""):
    """A view's scorer: the LLM judge (VIEW handle; needs its settings) or an encoder of the process cache."""
    if handle == llm_judge.VIEW:
        if judge is None:
            raise ValueError("the teacher's views name the LLM judge but no llm_judge settings were given")
        return llm_judge.LLMJudge(judge)
    return _load_encoder(handle, cache_root)


def _load_encoder(handle: str, cache_root: str = ""):
    """The process's copy of an encoder; cache_root: where its embeddings are kept (embedding_cache.py)."""
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get((handle, cache_root))
        if encoder is None:
            from components.retrieval.embedding import TextEncoder  # loads TensorFlow Text on the worker
            encoder = _ENCODERS[(handle, cache_root)] = TextEncoder(handle, _BATCH, cache_root or None)
        return encoder


class _Score(beam.DoFn):
    """Adds the teacher's label (views.ViewsFit.label of its views) and the query's similarity to the nearest
    eval query to each candidate."""

    def __init__(self, teacher_dir: str, encoder_handles: Sequence[str], settings: filtering.Settings,
                 judge: Optional[llm_judge.Settings] = None, cache_root: str = ""):
        super().__init__()
        self._teacher_dir, self._encoder_handles, self._settings = teacher_dir, list(encoder_handles), settings
        self._judge, self._cache_root = judge, cache_root
        self._eval_vectors = None
        self._scored, self._started = 0, None

    def setup(self):
        self._teacher = load_scorer(self._teacher_dir)
        self._encoders = [_load_view(handle, self._judge, self._cache_root) for handle in self._encoder_handles]

    def process(self, batch: List[dict], eval_vectors: List[np.ndarray], views_fit: views.ViewsFit):
        if self._eval_vectors is None:
            self._eval_vectors = np.stack(eval_vectors) if eval_vectors else np.zeros((0, 1), np.float32)
        self._started = self._started or time.perf_counter()
        scores = self._teacher(batch)
        yield from annotate(batch, scores, self._settings, self._encoders, self._eval_vectors, views_fit)
        before, self._scored = self._scored, self._scored + len(batch)
        if before // _PROGRESS_EVERY != self._scored // _PROGRESS_EVERY:  # a line a person can follow
            seconds = time.perf_counter() - self._started
            logging.info("TeacherLabeling: %d candidates scored by this worker (%.0f pairs/s)", self._scored,
                         self._scored / max(seconds, 1e-9))


def load_scorer(model_dir: str):
    """rows -> a model's raw scores (numpy [n]) through its SavedModel's score_text signature, in batches of
    similar length: the teacher's here, the candidate's in ZeroShotFloor."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the teacher's tokeniser ops)
    from models.cross_encoder import score_length_sorted
    signature = tf.saved_model.load(model_dir).signatures["score_text"]

    def score(queries, titles):
        return signature(**{features.QUERY: queries, features.PRODUCT_TITLE: titles})[features.SCORE]
    return lambda rows: score_length_sorted(score, [r[features.QUERY] for r in rows],
                                            [r[features.PRODUCT_TITLE] for r in rows], _BATCH)


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


def view_cosines(encoders: Sequence, rows: Sequence[Mapping],
                 first_query_vectors: Optional[Mapping[str, np.ndarray]] = None) -> np.ndarray:
    """[rows, views] zero-shot views, one column per view: an encoder's cosines (the first may reuse its query
    vectors) or the LLM judge's gains."""
    columns = [encoder.pair_scores(rows) if isinstance(encoder, llm_judge.LLMJudge)
               else pair_cosines(encoder, rows, first_query_vectors if index == 0 else None)
               for index, encoder in enumerate(encoders)]
    return np.stack(columns, axis=1) if rows else np.zeros((0, len(encoders)))


def embed_queries(encoder, rows: Sequence[Mapping]) -> Dict[str, np.ndarray]:
    """{query: embedding} of the rows' distinct queries."""
    queries = sorted({r[features.QUERY] for r in rows})
    return dict(zip(queries, encoder.embed(queries))) if queries else {}


def fit_views(encoder_handles: Sequence[str], encoders: Sequence, teacher_scores: Callable[[Sequence[dict]], Any],
              labelled_train: Sequence[Mapping], labelled_eval: Sequence[Mapping],
              settings: filtering.Settings) -> views.ViewsFit:
    """views.fit from the labelled rows: the encoders' cosines on both splits, the teacher's gains on the eval
    rows (teacher_scores: rows -> raw scores)."""
    eval_gains = [filtering.gain_of(float(s), settings.teacher_score)
                  for s in (teacher_scores(labelled_eval) if labelled_eval else [])]
    return views.fit(encoder_handles, labelled_train, view_cosines(encoders, labelled_train), labelled_eval,
                     eval_gains, view_cosines(encoders, labelled_eval), settings.zero_shot_weight,
                     settings.fit_zero_shot_weight)


def annotate(rows: Sequence[dict], teacher_scores: Sequence[float], settings: filtering.Settings,
             encoders: Sequence, eval_vectors: np.ndarray, views_fit: views.ViewsFit) -> List[dict]:
    """The candidates with what filtering.select reads: the teacher's label (views_fit.label of the teacher's
    gain, filtering.gain_of its score, and each encoder's zero-shot cosine) and the cosine of the row's query
    to the nearest eval query (-1 without eval queries). encoders: TextEncoders in views_fit's order; the first
    is the pipeline's, whose embeddings the eval guard uses; eval_vectors: the eval queries' [n, d] embeddings
    by it. Each row also keeps its label's parts."""
    if len(encoders) != len(views_fit.encoders):
        raise ValueError(f"{len(encoders)} encoders for a views fit of {len(views_fit.encoders)}")
    # Each distinct query is embedded once by the first encoder, for both the eval guard and its cosine.
    query_vectors = embed_queries(encoders[0], rows)
    nearest_eval = ({query: float((vector @ eval_vectors.T).max()) for query, vector in query_vectors.items()}
                    if len(eval_vectors) else {})
    cosines = view_cosines(encoders, rows, query_vectors)
    annotated = []
    for row, score, row_cosines in zip(rows, teacher_scores, cosines):
        gain = filtering.gain_of(float(score), settings.teacher_score)
        annotated.append({**row, filtering.TEACHER_SCORE: views_fit.label(gain, row_cosines),
                          filtering.CROSS_ENCODER_GAIN: gain, filtering.ZERO_SHOT_COSINE: float(row_cosines[0]),
                          filtering.ZERO_SHOT_GAIN: views_fit.zero_shot_gain(row_cosines),
                          filtering.EVAL_SIMILARITY: nearest_eval.get(row[features.QUERY], -1.0)})
    return annotated


class _FitViews(beam.DoFn):
    """views.ViewsFit from the whole labelled train split and the labelled eval rows (fit_views)."""

    def __init__(self, teacher_dir: str, encoder_handles: Sequence[str], settings: filtering.Settings,
                 judge: Optional[llm_judge.Settings] = None, cache_root: str = ""):
        super().__init__()
        self._teacher_dir, self._encoder_handles, self._settings = teacher_dir, list(encoder_handles), settings
        self._judge, self._cache_root = judge, cache_root

    def setup(self):
        # Held by the DoFn, so that _Score finds the same copies in the process's cache.
        self._encoders = [_load_view(handle, self._judge, self._cache_root) for handle in self._encoder_handles]

    def process(self, labelled_train: List[dict], labelled_eval: List[dict]):
        views_fit = fit_views(self._encoder_handles, self._encoders, load_scorer(self._teacher_dir),
                              labelled_train, labelled_eval, self._settings)
        for line in views.describe(views_fit):
            logging.info("TeacherLabeling: %s", line)
        yield views_fit


class _EmbedQueries(beam.DoFn):
    def __init__(self, encoder_handle: str, cache_root: str = ""):
        super().__init__()
        self._encoder_handle, self._cache_root = encoder_handle, cache_root

    def setup(self):
        self._encoder = _load_encoder(self._encoder_handle, self._cache_root)

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
        encoder_handles = encoder_handles_of(exec_properties)
        judge = judge_settings(exec_properties)
        cache_root = exec_properties.get(EMBEDDING_CACHE_KEY) or ""
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
                            | "EmbedEvalQueries" >> beam.ParDo(
                                _EmbedQueries(exec_properties["encoder_handle"], cache_root)))
            views_fit = (train | "CollectTrain" >> beam.combiners.ToList()
                         | "FitViews" >> beam.ParDo(
                             _FitViews(teacher_dir, encoder_handles, settings, judge, cache_root),
                             beam.pvalue.AsList(evaluation)))
            scored = (candidate_rows | "BatchCandidates" >> beam.BatchElements(
                          min_batch_size=_SCORE_CHUNK, max_batch_size=_SCORE_CHUNK)
                      | "Score" >> beam.ParDo(_Score(teacher_dir, encoder_handles, settings, judge, cache_root),
                                              beam.pvalue.AsList(eval_vectors), beam.pvalue.AsSingleton(views_fit)))
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
                _write_report, beam.pvalue.AsSingleton(counts), beam.pvalue.AsSingleton(views_fit),
                report_artifact, settings, start)
        # Custom properties set inside Beam would land on a pickled copy: set them here, from the file.
        report = report_lib.read_report(report_artifact)
        for name in HEADLINE:
            report_artifact.set_int_custom_property(name, int(report[name]))
        logging.info("%s", report_page.render_text(report))
        logging.info("TeacherLabeling done in %.1f s; report: %s", time.perf_counter() - start, report_artifact.uri)


def encoder_handles_of(exec_properties: Mapping[str, Any]) -> List[str]:
    """The zero-shot views: the pipeline's encoder (encoder_handle) first, then view_encoder_handles, then the
    LLM judge (llm_judge.VIEW) where llm_judge is set."""
    extra = [h.strip() for h in (exec_properties.get("view_encoder_handles") or "").split(",") if h.strip()]
    judge = [llm_judge.VIEW] if exec_properties.get(LLM_JUDGE_KEY) else []
    return list(dict.fromkeys([exec_properties["encoder_handle"], *extra, *judge]))


def judge_settings(exec_properties: Mapping[str, Any]) -> Optional[llm_judge.Settings]:
    """The LLM judge's settings from the llm_judge property (a JSON object; "" or absent: no judge)."""
    text = exec_properties.get(LLM_JUDGE_KEY)
    return llm_judge.Settings.from_config(json.loads(text)) if text else None


def _write_report(outcome: filtering.Outcome, labelled_train_rows: int, views_fit: views.ViewsFit,
                  report_artifact: types.Artifact, settings: filtering.Settings, start: float) -> None:
    report = report_page.build(outcome, labelled_train_rows, dataclasses.asdict(settings),
                               time.perf_counter() - start, dataclasses.asdict(views_fit))
    report_lib.write_report(report_artifact, report)
    report_page.write_html(report, os.path.join(report_artifact.uri, report_page.HTML_FILE))
