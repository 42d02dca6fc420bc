"""TeacherLabeling executor: the teacher scores every candidate, filtering.py decides, the report explains.

Writes the training data of the student: split `train` = the labelled train rows (origin labelled, weight 1)
plus the kept candidates (soft label, weight by origin); split `eval` = the labelled eval rows, untouched.
"""
import dataclasses
import logging
import os
import time
from typing import Any, Dict, List, Sequence

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
from models import features

TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"
HEADLINE = ("candidates_in", "kept", "rejected", "labelled_train_rows")  # also MLMD custom properties
_BATCH = 64


class _Score(beam.DoFn):
    """Adds the teacher's score and the query's similarity to the nearest eval query to each candidate."""

    def __init__(self, teacher_dir: str, encoder_handle: str, score_meaning: str):
        super().__init__()
        self._teacher_dir, self._encoder_handle = teacher_dir, encoder_handle
        self._score_meaning = score_meaning
        self._eval_vectors = None

    def setup(self):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (the teacher's tokeniser ops)
        from components.retrieval.embedding import TextEncoder
        self._tf = tf
        self._score = tf.saved_model.load(self._teacher_dir).signatures["score_text"]
        self._encoder = TextEncoder(self._encoder_handle, _BATCH)

    def process(self, batch: List[dict], eval_vectors: List[np.ndarray]):
        if self._eval_vectors is None:
            self._eval_vectors = np.stack(eval_vectors) if eval_vectors else np.zeros((0, 1), np.float32)
        tf = self._tf
        scores = self._score(
            **{features.QUERY: tf.constant([r[features.QUERY] for r in batch]),
               features.PRODUCT_TITLE: tf.constant([r[features.PRODUCT_TITLE] for r in batch])})[features.SCORE]
        yield from annotate(batch, scores.numpy().reshape(-1), self._score_meaning, self._encoder, self._eval_vectors)


def annotate(rows: Sequence[dict], teacher_scores: Sequence[float], score_meaning: str, encoder,
             eval_vectors: np.ndarray) -> List[dict]:
    """The candidates with what filtering.select reads: the teacher's score as a gain (filtering.gain_of) and
    the cosine of the row's query to the nearest eval query (-1 without eval queries); `encoder` embeds the
    queries (a retrieval.embedding.TextEncoder), eval_vectors are the eval queries' [n, d] embeddings."""
    queries = sorted({r[features.QUERY] for r in rows})
    nearest_eval = dict(zip(queries, (encoder.embed(queries) @ eval_vectors.T).max(axis=1)
                            if len(eval_vectors) and queries else [-1.0] * len(queries)))
    return [{**row, filtering.TEACHER_SCORE: filtering.gain_of(float(score), score_meaning),
             filtering.EVAL_SIMILARITY: float(nearest_eval[row[features.QUERY]])}
            for row, score in zip(rows, teacher_scores)]


class _EmbedQueries(beam.DoFn):
    def __init__(self, encoder_handle: str):
        super().__init__()
        self._encoder_handle = encoder_handle

    def setup(self):
        from components.retrieval.embedding import TextEncoder
        self._encoder = TextEncoder(self._encoder_handle, _BATCH)

    def process(self, queries: List[str]):
        yield from self._encoder.embed(queries)


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
            eval_queries = (evaluation | "EvalQueries" >> beam.Map(lambda r: r[features.QUERY])
                            | "DistinctEvalQueries" >> beam.Distinct())
            eval_vectors = (eval_queries | "BatchEvalQueries" >> beam.BatchElements(max_batch_size=_BATCH)
                            | "EmbedEvalQueries" >> beam.ParDo(_EmbedQueries(exec_properties["encoder_handle"])))
            scored = (candidate_rows | "BatchCandidates" >> beam.BatchElements(
                          min_batch_size=_BATCH, max_batch_size=_BATCH)
                      | "Score" >> beam.ParDo(
                          _Score(teacher_dir, exec_properties["encoder_handle"], settings.teacher_score),
                          beam.pvalue.AsList(eval_vectors)))
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
                _write_report, beam.pvalue.AsSingleton(counts), report_artifact, settings, start)
        # Custom properties set inside Beam would land on a pickled copy: set them here, from the file.
        report = report_lib.read_report(report_artifact)
        for name in HEADLINE:
            report_artifact.set_int_custom_property(name, int(report[name]))
        logging.info("%s", report_page.render_text(report))
        logging.info("TeacherLabeling done in %.1f s; report: %s", time.perf_counter() - start, report_artifact.uri)


def _write_report(outcome: filtering.Outcome, labelled_train_rows: int, report_artifact: types.Artifact,
                  settings: filtering.Settings, start: float) -> None:
    report = report_page.build(outcome, labelled_train_rows, dataclasses.asdict(settings),
                               time.perf_counter() - start)
    report_lib.write_report(report_artifact, report)
    report_page.write_html(report, os.path.join(report_artifact.uri, report_page.HTML_FILE))
