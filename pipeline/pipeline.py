"""The one TFX pipeline every runner uses (local, Beam, and later Kubeflow)."""
from typing import List, Optional

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.anomalies_gate.component import AnomaliesGate
from models import features
from pipeline import configs


def example_gen_output_config() -> tfx.proto.Output:
    """Train/eval by hash of the query id: no query is in both splits."""
    return tfx.proto.Output(split_config=tfx.proto.SplitConfig(
        splits=[tfx.proto.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in configs.SPLIT_BUCKETS.items()],
        partition_feature_name=features.QUERY_ID))


def eval_config() -> tfma.EvalConfig:
    """NDCG@k and the first relevant position per query; NDCG@10 gates blessing."""
    ndcg = f'"gain_key": "{features.RELEVANCE}"'
    blessing_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": configs.MIN_NDCG}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -configs.MAX_NDCG_DROP}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=features.RELEVANCE,
                                    prediction_key=features.SCORE)],
        metrics_specs=[
            # Thresholds attach to the sub-keys of their spec, so the gated cutoff has a spec of its own.
            tfma.MetricsSpec(
                query_key=features.QUERY_ID,
                binarize=tfma.BinarizationOptions(top_k_list={"values": [configs.BLESSING_METRIC_CUTOFF]}),
                metrics=[tfma.MetricConfig(class_name="NDCG", config=ndcg, threshold=blessing_threshold)]),
            tfma.MetricsSpec(
                query_key=features.QUERY_ID,
                binarize=tfma.BinarizationOptions(top_k_list={"values": [
                    k for k in configs.NDCG_CUTOFFS if k != configs.BLESSING_METRIC_CUTOFF]}),
                metrics=[tfma.MetricConfig(class_name="NDCG", config=ndcg)]),
            tfma.MetricsSpec(
                query_key=features.QUERY_ID,
                metrics=[tfma.MetricConfig(class_name="MinLabelPosition")]),
            tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")]),
        ],
        slicing_specs=[tfma.SlicingSpec()],
        # The Keras loss and metrics compare the raw grade with a score on another scale: misleading here.
        options=tfma.Options(include_default_metrics={"value": False}),
    )


def create_pipeline(
    data_root: str,
    pipeline_root: str,
    serving_model_dir: str,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    train_steps: int = configs.TRAIN_STEPS,
    eval_steps: int = configs.EVAL_STEPS,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """ExampleGen -> statistics and validation -> Transform -> Trainer -> Evaluator -> Pusher."""
    example_gen = tfx.components.CsvExampleGen(
        input_base=data_root,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="search_log", pattern=configs.SEARCH_LOG_PATTERN)]),
        output_config=example_gen_output_config())

    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(configs.SCHEMA_DIR / "schema.pbtxt"))
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"])

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN)
    transform.add_upstream_node(anomalies_gate)

    trainer = tfx.components.Trainer(
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=eval_steps),
        custom_config=configs.TRAINER_HPARAMS)

    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        example_splits=[configs.EVAL_SPLIT],
        eval_config=eval_config())

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)))

    return tfx.dsl.Pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, example_validator, anomalies_gate,
                    transform, trainer, model_resolver, evaluator, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
