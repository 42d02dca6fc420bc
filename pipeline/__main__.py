"""Command line: run the pipeline locally, print a run's summary, or score pairs with a pushed model.

  python -m pipeline run --runner local|beam --data DIR --output DIR [--config FILE] [--workers N]
                        [--beam-arg ARG] [--no-augmentation | --no-generation] [--no-traffic]
                        [--on-llm-failure fail|skip] [--encoder NAME] [--serve-zero-shot-weight W] [--seed N]
                        [--train-steps N] [--grade-scale LOWEST:HIGHEST]
  python -m pipeline validate --data DIR --output DIR [--config FILE] [--grade-scale LOWEST:HIGHEST]
  python -m pipeline summary --output DIR
  python -m pipeline score --model DIR --query TEXT --title TEXT [--title TEXT ...]
"""
import argparse
import dataclasses
import os
import sys
import time
import warnings

from pipeline import configs


def _zero_shot_weight(text: str) -> float:
    from models import zero_shot  # pure Python

    try:
        weight = float(text)
        zero_shot.check_weight(weight)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return weight


def _grade_scale(text: str) -> str:
    from models import features  # pure Python

    try:
        return str(features.GradeScale.parse(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_config_flags(parser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help="log everything TFX logs (each component's IR and execution properties); default: "
                        "a line as each component starts and ends, with its time, and the components' own lines")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="a YAML or JSON file of the run's settings (pipeline/run_config.py lists the keys); "
                        "flags given here win over it")
    parser.add_argument("--grade-scale", type=_grade_scale, default=None, metavar="LOWEST:HIGHEST",
                        help="the judgements' grades, e.g. 1:3 or 0:1 for clicks; mapped linearly onto the "
                        f"pipeline's 0..3 (default: {configs.GRADE_SCALE})")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole pipeline")
    run.add_argument("--runner", choices=("local", "beam"), default="local")
    run.add_argument("--data", default=str(configs.SAMPLE_DATA_DIR),
                     help=f"folder with {configs.SEARCH_LOG_PATTERN} (default: the bundled sample)")
    run.add_argument("--output", required=True, help="pipeline root, MLMD and pushed models go here")
    _add_config_flags(run)
    run.add_argument("--workers", type=int, default=1,
                     help="Beam DirectRunner worker processes (>1: multi_processing mode)")
    run.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                     help="extra Beam pipeline option, passed through (repeatable)")
    run.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS,
                     help="fixed train steps of both Trainers (default: sized by the data, "
                          "epochs over the rows each Trainer gets)")
    run.add_argument("--encoder", choices=configs.ENCODERS, default=None,
                     help=f"pretrained encoder of every component (default: {configs.ENCODER}; "
                          "multilingual-e5-small for Chinese)")
    run.add_argument("--serve-zero-shot-weight", type=_zero_shot_weight, default=None, metavar="W",
                     help="weight of the zero-shot cosine in the served score, 0 to 1; 0 serves the fine-tuned "
                          f"cross-encoder alone (default: {configs.SERVE_ZERO_SHOT_WEIGHT})")
    run.add_argument("--seed", type=int, default=None,
                     help="random seed of both Trainers and of query generation (default: the configured ones)")
    run.add_argument("--no-cache", action="store_true", help="rerun every component")
    run.add_argument("--zero-shot-floor", choices=configs.FLOOR_MODES, default=None,
                     help="enforce: push only a model that also ranks the eval split better than the encoder's "
                     f"zero-shot cosine; report: print that check, push what the Evaluator blesses (default: "
                     f"{configs.ZERO_SHOT_FLOOR})")
    run.add_argument("--no-augmentation", action="store_true",
                     help="train on the labelled data only (no teacher, generation, retrieval)")
    run.add_argument("--no-generation", action="store_true", help="augment by retrieval only (no LLM)")
    run.add_argument("--generation-products", type=int, default=None, metavar="N",
                     help=f"catalogue products the LLM writes queries for, a seeded choice (0: all; default "
                     f"{configs.QG_MAX_PRODUCTS})")
    run.add_argument("--generation-seconds", type=float, default=None, metavar="S",
                     help="each worker's generation time budget; the products left then are counted, not "
                     "generated (0: none, the default)")
    run.add_argument("--no-traffic", action="store_true",
                     help=f"ignore the search traffic ({configs.IMPRESSIONS_PATTERN}) of the data folder")
    run.add_argument("--teacher-view", action="append", choices=configs.ENCODERS, dest="teacher_views",
                     help="an encoder whose zero-shot cosine is one of the teacher's views, besides --encoder; "
                     f"repeat for several (default: {', '.join(configs.TEACHER_VIEW_ENCODERS) or 'none'})")
    run.add_argument("--no-teacher-views", action="store_true",
                     help="the teacher's zero-shot view is the pipeline's encoder alone")
    run.add_argument("--on-llm-failure", choices=("fail", "skip"), default=None,
                     help="when the LLM backend fails: fail the run, or skip generation (retrieval only; "
                     f"default: {configs.AUGMENTATION.on_backend_failure})")

    validate = commands.add_parser("validate", help="only validate a data drop (no training): row rules, "
                                   "schema and drift checks; exits 1 with the reasons when it breaks them")
    validate.add_argument("--data", default=str(configs.SAMPLE_DATA_DIR))
    validate.add_argument("--output", required=True, help="pipeline root and MLMD of the validation run")
    _add_config_flags(validate)

    summary = commands.add_parser("summary", help="print the summary of the latest run")
    summary.add_argument("--output", required=True)

    score = commands.add_parser("score", help="score titles for a query with a pushed model")
    score.add_argument("--model", required=True, help="a SavedModel, or a folder of numbered versions")
    score.add_argument("--query", required=True)
    score.add_argument("--title", action="append", required=True, dest="titles")
    return parser.parse_args(argv)


def _augmentation(args, base: "configs.Augmentation") -> "configs.Augmentation":
    """`base` (the config file's, else configs.AUGMENTATION) with the flags given on the command line."""
    if args.no_augmentation:
        return dataclasses.replace(base, enabled=False)
    changes = {"generation": False} if args.no_generation else {}
    if args.no_traffic:
        changes["traffic"] = False
    if args.no_teacher_views or args.teacher_views:
        changes["teacher_view_encoders"] = () if args.no_teacher_views else tuple(args.teacher_views)
    for flag, field in (("on_llm_failure", "on_backend_failure"), ("generation_products", "max_products"),
                        ("generation_seconds", "max_seconds")):
        if getattr(args, flag) is not None:
            changes[field] = getattr(args, flag)
    return dataclasses.replace(base, **changes)


def _settings(args) -> dict:
    """create_pipeline's keyword arguments: configs.py's defaults < the --config file < the flags given."""
    from pipeline import run_config

    loaded = run_config.load(args.config) if args.config else None
    settings = dict(loaded.overrides) if loaded else {}
    if args.grade_scale is not None:
        settings["grade_scale"] = args.grade_scale
    if args.command == "validate":
        return {key: settings[key] for key in ("grade_scale", "augmentation") if key in settings}
    settings["augmentation"] = _augmentation(args, settings.get("augmentation", configs.AUGMENTATION))
    for key in ("train_steps", "encoder", "serve_zero_shot_weight", "seed", "zero_shot_floor"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if loaded:
        settings["run_config"] = loaded.record()
    return settings


def main(argv=None) -> int:
    args = _parse(argv)
    from pipeline import logs
    logs.configure(verbose=getattr(args, "verbose", True))
    # Google client libraries warn at import about future Python support: noise for a person reading.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    # Imported here so that `--help` answers without loading TensorFlow.
    if args.command in ("run", "validate"):
        from pipeline.run_config import ConfigError
        try:
            settings = _settings(args)
        except ConfigError as error:  # a person's mistake: one line naming the file and key
            print(f"python -m pipeline {args.command}: error: {error}", file=sys.stderr)
            return 2
    if args.command == "run":
        from pipeline import runners, summary
        started = time.time()
        output = os.path.abspath(args.output)
        runners.run(args.runner, args.data, output, runners.beam_args(args.workers, args.beam_args),
                    enable_cache=not args.no_cache, overrides=settings)
        print(summary.render(summary.collect(output)))
        print(f"Wall time: {time.time() - started:.0f} s")
    elif args.command == "validate":
        from components.anomalies_gate.executor import DataAnomaliesError
        from components.search_log_example_gen.rules import InvalidSearchLogError
        from pipeline import runners
        try:
            runners.validate("local", args.data, os.path.abspath(args.output), runners.beam_args(1),
                             overrides=settings)
        except (InvalidSearchLogError, DataAnomaliesError) as error:
            print(f"Data drop REJECTED: {error}")
            return 1
        from pipeline import summary
        record = summary.RunRecord(os.path.abspath(args.output), configs.VALIDATION_PIPELINE_NAME)
        print(f"Data drop {args.data}: valid (row rules, schema, drift checks); {summary.quarantine_line(record)}")
    elif args.command == "summary":
        from pipeline import summary
        print(summary.render(summary.collect(args.output)))
    else:
        from pipeline import scoring
        try:
            scores = scoring.score_pairs(args.model, args.query, args.titles)
        except (FileNotFoundError, ValueError) as error:  # a person's mistake: one line, not a traceback
            print(f"python -m pipeline score: error: {error}", file=sys.stderr)
            return 2
        for title, value in zip(args.titles, scores):
            print(f"{value:8.4f}  {title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
