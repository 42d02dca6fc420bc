"""The one TFX pipeline every runner uses (local, Beam, and later Kubeflow)."""
import dataclasses
import os
from typing import List, Optional

import tensorflow_model_analysis as tfma
from google.protobuf import text_format
from ml_metadata.proto import metadata_store_pb2
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import v1 as tfx

from components.anomalies_gate.component import AnomaliesGate
from components.atomic_pusher.component import Pusher
from components.query_generation.component import CATALOG_SPLIT, QueryGeneration
from components.retrieval.component import Retrieval
from components.search_log_example_gen import rules
from components.search_log_example_gen.component import SearchLogExampleGen
from components.teacher_labeling.component import TeacherLabeling
from components.zero_shot_floor.component import ZeroShotFloor
from models import encoder as encoder_exports
from models import features
from pipeline import configs


ZERO_SHOT_FLOOR_ID = "ZeroShotFloor"


def example_gen_output_config() -> tfx.proto.Output:
    """Train/eval by hash of the query text: no query text is in both splits, whatever its query ids (the
    rules give a query_id one text, so its rows stay together too). This is the one place for the split rule.

    Texts that differ only in case or spacing hash apart: TFX hashes the text as written. TeacherLabeling's
    eval guard normalises them, but only for generated and retrieved samples, not for labelled rows."""
    return tfx.proto.Output(split_config=tfx.proto.SplitConfig(
        splits=[tfx.proto.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in configs.SPLIT_BUCKETS.items()],
        # Not the query_id: two ids may carry one text, and an eval query would then train.
        partition_feature_name=features.QUERY))


def eval_config(gated: bool = True) -> tfma.EvalConfig:
    """NDCG@k and the first relevant position per query; NDCG@10 and the eval row count gate blessing (unless
    not gated: the teacher's evaluation only reports)."""
    ndcg = f'"gain_key": "{features.RELEVANCE}"'
    blessing_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": configs.MIN_NDCG}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -configs.MAX_NDCG_DROP}))
    # Too few eval rows and a good NDCG@10 may be luck: not blessed, whatever the NDCG.
    enough_examples = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": configs.MIN_EVAL_EXAMPLES}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=features.RELEVANCE,
                                    prediction_key=features.SCORE)],
        metrics_specs=[
            # Thresholds attach to the sub-keys of their spec, so the gated cutoff has a spec of its own.
            tfma.MetricsSpec(
                query_key=features.QUERY_ID,
                binarize=tfma.BinarizationOptions(top_k_list={"values": [configs.BLESSING_METRIC_CUTOFF]}),
                metrics=[tfma.MetricConfig(class_name="NDCG", config=ndcg,
                                           threshold=blessing_threshold if gated else None)]),
            tfma.MetricsSpec(
                query_key=features.QUERY_ID,
                binarize=tfma.BinarizationOptions(top_k_list={"values": [
                    k for k in configs.NDCG_CUTOFFS if k != configs.BLESSING_METRIC_CUTOFF]}),
                metrics=[tfma.MetricConfig(class_name="NDCG", config=ndcg)]),
            tfma.MetricsSpec(
                query_key=features.QUERY_ID,
                metrics=[tfma.MetricConfig(class_name="MinLabelPosition")]),
            tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount",
                                                        threshold=enough_examples if gated else None)]),
        ],
        slicing_specs=[tfma.SlicingSpec()],
        # The Keras loss and metrics compare the raw grade with a score on another scale: misleading here.
        options=tfma.Options(include_default_metrics={"value": False}),
    )


def custom_validation_config() -> custom_validation_config_pb2.CustomValidationConfig:
    """The drift checks of schemas/ (SQL on each split's statistics), read at build time: the proto travels
    in the pipeline definition, so a compiled Kubeflow job needs no file of this checkout."""
    text = (configs.SCHEMA_DIR / configs.CUSTOM_VALIDATIONS_FILE).read_text(encoding="utf-8")
    return text_format.Parse(text, custom_validation_config_pb2.CustomValidationConfig())


def _checked_example_gen(data_root: str, split: str, pattern: str, kind: str, node_id: str) -> SearchLogExampleGen:
    """An input other than the judgements, under the same row rules, quarantine and ledger, as Examples with
    one split (no split config: the output splits are the input's); only augmentation reads it."""
    return SearchLogExampleGen(
        input_base=data_root,
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name=split, pattern=pattern)]),
        output_config=tfx.proto.Output(),
        max_quarantine_fraction=configs.MAX_QUARANTINE_FRACTION,
        max_text_chars=configs.MAX_TEXT_CHARS,
        input_kind=kind).with_id(node_id)


def catalog_example_gen(data_root: str) -> SearchLogExampleGen:
    """The catalogue (product_id, product_title): one row per product, split `catalog`."""
    return _checked_example_gen(data_root, CATALOG_SPLIT, configs.CATALOG_FILE, rules.CATALOG, "CatalogExampleGen")


def traffic_example_gen(data_root: str) -> SearchLogExampleGen:
    """The search traffic (impressions, no grade), split train: never split for eval."""
    return _checked_example_gen(data_root, configs.TRAIN_SPLIT, configs.IMPRESSIONS_PATTERN, rules.IMPRESSIONS,
                                "TrafficExampleGen")


@dataclasses.dataclass
class DataValidation:
    """The nodes that stop a run on bad data before any training: SearchLogExampleGen (row rules, quarantine)
    -> StatisticsGen -> ImportSchemaGen -> ExampleValidator (schema) -> AnomaliesGate (its own SQL drift checks;
    raises, naming split and feature); and, where augmentation reads them, the catalogue's and the traffic's
    ExampleGens (their own row rules and quarantine). Training waits for every one of `gates`."""
    example_gen: SearchLogExampleGen
    statistics_gen: tfx.components.StatisticsGen
    schema_gen: tfx.components.ImportSchemaGen
    example_validator: tfx.components.ExampleValidator
    anomalies_gate: AnomaliesGate
    catalog_gen: Optional[SearchLogExampleGen] = None
    traffic_gen: Optional[SearchLogExampleGen] = None

    @property
    def gates(self) -> list:
        return [node for node in (self.anomalies_gate, self.catalog_gen, self.traffic_gen) if node is not None]

    @property
    def nodes(self) -> list:
        return [self.example_gen, self.statistics_gen, self.schema_gen, self.example_validator,
                *self.gates]


def data_validation(data_root: str, catalog: bool = True, traffic: bool = False,
                    grade_scale: Optional[str] = None) -> DataValidation:
    """The validation nodes of a data drop; catalog / traffic: whether the run reads the catalogue / the
    search traffic (augmentation does); grade_scale: the judgements' (None: configs.GRADE_SCALE), mapped onto
    the pipeline's by SearchLogExampleGen, so the schema and the drift checks below hold for any scale."""
    example_gen = SearchLogExampleGen(
        grade_scale=str(grade_scale or configs.GRADE_SCALE),
        input_base=data_root,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name="search_log", pattern=configs.SEARCH_LOG_PATTERN)]),
        output_config=example_gen_output_config(),
        max_quarantine_fraction=configs.MAX_QUARANTINE_FRACTION,
        max_text_chars=configs.MAX_TEXT_CHARS)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(configs.SCHEMA_DIR / configs.SCHEMA_FILE))
    # TFX's ExampleValidator checks the schema; the gate runs the drift checks itself (no
    # custom_validation_config: TFX's main branch removed it) and stops the run on either.
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                                   statistics=statistics_gen.outputs["statistics"],
                                   drift_checks=custom_validation_config())
    return DataValidation(example_gen, statistics_gen, schema_gen, example_validator, anomalies_gate,
                          catalog_example_gen(data_root) if catalog else None,
                          traffic_example_gen(data_root) if traffic else None)


def create_validation_pipeline(
    data_root: str,
    pipeline_root: str,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    augmentation: configs.Augmentation = configs.AUGMENTATION,
    grade_scale: Optional[str] = None,
) -> tfx.dsl.Pipeline:
    """Only the data validation of create_pipeline: checks a new data drop without training anything (the
    catalogue and the search traffic too, where a run with these augmentation settings reads them)."""
    return tfx.dsl.Pipeline(
        pipeline_name=configs.VALIDATION_PIPELINE_NAME,
        pipeline_root=pipeline_root,
        components=data_validation(data_root, augmentation.enabled, augmentation.uses_traffic(data_root),
                                   grade_scale).nodes,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )


def trainer_config(hparams: dict, encoder: Optional[str] = None) -> dict:
    """A Trainer's custom_config: hparams with their encoder (configs.with_encoder) and that export's
    encoder_fingerprint, which run_fn ignores: it is there for the cache key, so that a re-export at the same
    place trains again."""
    hparams = configs.with_encoder(hparams, encoder)
    if not hparams.get("encoder_handle"):
        return hparams  # a model without a pretrained encoder
    return {**hparams, "encoder_fingerprint": encoder_exports.fingerprint(hparams["encoder_handle"])}


def _train_args(steps: Optional[int]) -> tfx.proto.TrainArgs:
    """num_steps where given; none: run_fn sizes training by epochs over the rows it gets."""
    return tfx.proto.TrainArgs() if steps is None else tfx.proto.TrainArgs(num_steps=steps)


def _eval_args(steps: Optional[int]) -> tfx.proto.EvalArgs:
    """num_steps where given; none: one pass over the eval split."""
    return tfx.proto.EvalArgs() if steps is None else tfx.proto.EvalArgs(num_steps=steps)


def create_pipeline(
    data_root: str,
    pipeline_root: str,
    serving_model_dir: str,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    train_steps: Optional[int] = configs.TRAIN_STEPS,
    eval_steps: Optional[int] = configs.EVAL_STEPS,
    enable_cache: bool = True,
    augmentation: configs.Augmentation = configs.AUGMENTATION,
    encoder: Optional[str] = None,
    serve_zero_shot_weight: Optional[float] = None,
    seed: Optional[int] = None,
    zero_shot_floor: str = configs.ZERO_SHOT_FLOOR,
    grade_scale: Optional[str] = None,
    trainer_hparams: Optional[dict] = None,
    teacher_hparams: Optional[dict] = None,
    run_config: Optional[dict] = None,
) -> tfx.dsl.Pipeline:
    """ExampleGen -> validation -> [teacher -> augmentation] -> Transform -> Trainer -> Evaluator -> ZeroShotFloor
    -> Pusher.

    encoder: one of configs.ENCODERS for every component (Trainers, retrieval, labelling); None: the
    configured ones (configs.ENCODER, or ENCODER_HANDLE / augmentation.encoder_handle where set).
    serve_zero_shot_weight: the served model's zero-shot weight (0: the fine-tuned cross-encoder alone);
    None: configs.SERVE_ZERO_SHOT_WEIGHT.
    seed: the random seed of both Trainers and of query generation; None: the configured ones.
    zero_shot_floor: one of configs.FLOOR_MODES: "enforce" pushes only a candidate that also beats the
    encoder's zero-shot ranking (ZeroShotFloor); "report" records that check and pushes what the Evaluator
    blesses.
    grade_scale: the judgements' grades, "LOWEST:HIGHEST" (None: configs.GRADE_SCALE).
    trainer_hparams / teacher_hparams: hparams of the student / the teacher over the configured ones
    (models/cross_encoder.py DEFAULT_HPARAMS documents each key).
    run_config: the record of the config file the run's settings came from (pipeline/run_config.py), kept
    in MLMD with the Pusher's execution."""
    student_hparams = {**configs.serving_hparams(serve_zero_shot_weight), **(trainer_hparams or {})}
    teacher_hparams = {**configs.TEACHER_HPARAMS, **(teacher_hparams or {})}
    if seed is not None:
        student_hparams, teacher_hparams = {**student_hparams, "seed": seed}, {**teacher_hparams, "seed": seed}
        augmentation = dataclasses.replace(augmentation, seed=seed)
    if encoder is not None:
        augmentation = dataclasses.replace(augmentation, encoder_handle=str(configs.encoder_dir(encoder)))
    validation = data_validation(data_root, augmentation.enabled, augmentation.uses_traffic(data_root),
                                 grade_scale)
    components = validation.nodes
    example_gen = validation.example_gen

    training_examples, training_schema = example_gen.outputs["examples"], validation.schema_gen.outputs["schema"]
    if augmentation.enabled:
        augmentation_nodes = _augmentation(validation, augmentation, train_steps, eval_steps,
                                           trainer_config(teacher_hparams, encoder), teacher_hparams,
                                           os.path.join(pipeline_root, configs.EMBEDDING_CACHE_DIR))
        components += augmentation_nodes
        labeling, training_schema_gen = augmentation_nodes[-2], augmentation_nodes[-1]
        training_examples = labeling.outputs["augmented_examples"]
        training_schema = training_schema_gen.outputs["schema"]

    transform = tfx.components.Transform(
        examples=training_examples,
        schema=training_schema,
        preprocessing_fn=configs.PREPROCESSING_FN)
    for gate in validation.gates:
        transform.add_upstream_node(gate)

    trainer = tfx.components.Trainer(
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=training_schema,
        train_args=_train_args(train_steps),
        eval_args=_eval_args(eval_steps),
        custom_config=trainer_config(student_hparams, encoder))

    if zero_shot_floor not in configs.FLOOR_MODES:
        raise ValueError(f"zero_shot_floor must be one of {configs.FLOOR_MODES}, not {zero_shot_floor!r}")
    # The baseline is the latest model that the floor's blessing (the one the Pusher obeys) blessed: a model
    # the Evaluator blessed but the floor refused was never served and is no baseline.
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing,
                                       producer_component_id=ZERO_SHOT_FLOOR_ID, output_key="blessing"),
    ).with_id("latest_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        example_splits=[configs.EVAL_SPLIT],
        eval_config=eval_config())
    floor = ZeroShotFloor(
        model=trainer.outputs["model"], evaluator_blessing=evaluator.outputs["blessing"],
        examples=example_gen.outputs["examples"], encoder_handle=augmentation.encoder_handle,
        encoder_fingerprint=encoder_exports.fingerprint(augmentation.encoder_handle), split=configs.EVAL_SPLIT,
        margin=configs.ZERO_SHOT_FLOOR_MARGIN, enforce=zero_shot_floor == "enforce").with_id(ZERO_SHOT_FLOOR_ID)

    # TFX's Pusher with an atomic push: a server never lists a half-copied version (components/atomic_pusher).
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=floor.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)),
        run_config=run_config)

    return tfx.dsl.Pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=pipeline_root,
        components=components + [transform, trainer, model_resolver, evaluator, floor, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )


def _augmentation(validation: DataValidation, settings: "configs.Augmentation", train_steps: Optional[int],
                  eval_steps: Optional[int], teacher_config: dict, teacher_hparams: dict,
                  embedding_cache: str = "") -> list:
    """The teacher and the augmentation components; the last two are TeacherLabeling (the student's training
    data) and the ImportSchemaGen of that data. Only the train split of the labelled examples is augmented."""
    labelled, anomalies_gate = validation.example_gen.outputs["examples"], validation.anomalies_gate
    catalog = validation.catalog_gen.outputs["examples"]
    traffic = validation.traffic_gen.outputs["examples"] if validation.traffic_gen else None
    teacher = tfx.components.Trainer(
        run_fn=configs.RUN_FN,
        examples=labelled,
        schema=validation.schema_gen.outputs["schema"],
        train_args=_train_args(train_steps),
        eval_args=_eval_args(eval_steps),
        custom_config=teacher_config).with_id("TeacherTrainer")
    for gate in validation.gates:  # no training before every input is checked
        teacher.add_upstream_node(gate)
    teacher_evaluator = tfx.components.Evaluator(
        examples=labelled, model=teacher.outputs["model"], example_splits=[configs.EVAL_SPLIT],
        eval_config=eval_config(gated=False)).with_id("TeacherEvaluator")
    nodes = [teacher, teacher_evaluator]

    generated = None
    if settings.generation:
        query_generation = QueryGeneration(
            examples=labelled, catalog=catalog, **settings.generation_args)
        query_generation.add_upstream_node(anomalies_gate)
        generated = query_generation.outputs["generated_examples"]
        nodes.append(query_generation)
    encoder_properties = {"encoder_handle": settings.encoder_handle,
                          "encoder_fingerprint": encoder_exports.fingerprint(settings.encoder_handle),
                          "embedding_cache": embedding_cache}
    retrieval = Retrieval(examples=labelled, catalog=catalog, generated_queries=generated,
                          **encoder_properties, **settings.retrieval_args)
    retrieval.add_upstream_node(anomalies_gate)
    labeling = TeacherLabeling(examples=labelled, candidates=retrieval.outputs["candidates"],
                               teacher_model=teacher.outputs["model"], traffic=traffic, **encoder_properties,
                               view_encoder_handles=settings.view_encoder_handles, llm_judge=settings.llm_judge,
                               **settings.labeling_args(teacher_hparams))
    training_schema_gen = tfx.components.ImportSchemaGen(
        schema_file=str(configs.SCHEMA_DIR / configs.TRAINING_SCHEMA_FILE)).with_id("TrainingSchemaGen")
    return nodes + [retrieval, labeling, training_schema_gen]
