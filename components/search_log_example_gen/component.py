"""SearchLogExampleGen: ExampleGen for the search-log CSVs that validates every row before training.

A FileBasedExampleGen (same driver, spans, splits and Examples artifact as CsvExampleGen) whose executor reads
the CSVs with the python csv module, checks each row against the rule table of `rules.py`, emits the valid
rows as tf.Examples and quarantines the others (`<examples uri>/quarantine/rows.jsonl` and `ledger.json`).
It fails the run, naming file, line, column and rule, on a broken header, a non-UTF-8 byte, an unclosed
quote, or when more than `max_quarantine_fraction` of the rows are quarantined.
"""
from typing import Optional, Union

from tfx import types
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import utils
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.search_log_example_gen import executor, rules
from models import features


class SearchLogExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's spec plus the two knobs of the rule table."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        executor.MAX_QUARANTINE_FRACTION_KEY: ExecutionParameter(type=float),
        executor.MAX_TEXT_CHARS_KEY: ExecutionParameter(type=int),
        executor.INPUT_KIND_KEY: ExecutionParameter(type=str, optional=True),
        executor.GRADE_SCALE_KEY: ExecutionParameter(type=str, optional=True),
    }


class SearchLogExampleGen(example_gen_component.FileBasedExampleGen):
    """Validating ExampleGen for `query_id,query,product_id,product_title,relevance` CSV files (judgements), for
    `query_id,query,product_id,product_title` files (impressions: the search traffic) or for
    `product_id,product_title` files (the catalogue): input_kind says which.

    Usage:
        example_gen = SearchLogExampleGen(
            input_base=data_root,
            input_config=tfx.proto.Input(splits=[
                tfx.proto.Input.Split(name="search_log", pattern="search_log*.csv")]),
            output_config=example_gen_output_config(),  # by query text: no query in two splits
            max_quarantine_fraction=0.05)
    """

    SPEC_CLASS = SearchLogExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(  # pylint: disable=super-init-not-called
        self,
        input_base: str,
        input_config: Optional[Union[example_gen_pb2.Input, data_types.RuntimeParameter]] = None,
        output_config: Optional[Union[example_gen_pb2.Output, data_types.RuntimeParameter]] = None,
        range_config: Optional[Union[range_config_pb2.RangeConfig, data_types.RuntimeParameter]] = None,
        max_quarantine_fraction: float = rules.DEFAULT_MAX_QUARANTINE_FRACTION,
        max_text_chars: int = rules.DEFAULT_MAX_TEXT_CHARS,
        input_kind: str = rules.JUDGEMENTS,
        grade_scale: Optional[Union[str, features.GradeScale]] = None,
    ):
        """Args:
          input_base: the folder of the CSV files (header `query_id,query,product_id,product_title,relevance`,
            any column order, UTF-8).
          input_config: input splits as file patterns relative to input_base; default: every file, one split.
          output_config: output splits; default train/eval 2:1 by hash of the whole example. Pass a
            split_config with a `partition_feature_name` to keep each query in one split (the pipeline's:
            pipeline.example_gen_output_config).
          range_config: span range, as for any FileBasedExampleGen.
          max_quarantine_fraction: the run fails if a larger fraction of the rows read is quarantined.
          max_text_chars: query and product_title values longer than this are cut to it (rows kept, counted).
          input_kind: "judgements" (a relevance column on the scale of models/features.py), "impressions" (no
            relevance column: the products shown for logged queries, graded later by the teacher) or "catalog"
            (product_id and product_title; one row per product). The same row rules apply otherwise, with a
            ledger of their own.
          grade_scale: the judgements' grades, "LOWEST:HIGHEST" (e.g. "1:3", "0:1" for clicks; default
            "0:3"): a grade outside it is quarantined, a kept one mapped linearly onto the pipeline's scale
            (models/features.py), which the schema, the drift checks and the blessing thresholds are set on.
        """
        # FileBasedExampleGen.__init__ builds its own spec class; this builds the extended one the same way.
        input_config = input_config or utils.make_default_input_config()
        output_config = output_config or utils.make_default_output_config(input_config)
        spec = SearchLogExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            custom_config=None,
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            max_quarantine_fraction=float(max_quarantine_fraction),
            max_text_chars=int(max_text_chars),
            input_kind=input_kind,
            grade_scale=str(features.GradeScale.parse(grade_scale)) if grade_scale else None,
            examples=types.Channel(type=standard_artifacts.Examples))
        executor.max_quarantine_fraction(spec.exec_properties)  # fail at construction on a bad value
        executor.max_text_chars(spec.exec_properties)
        executor.input_kind(spec.exec_properties)
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
