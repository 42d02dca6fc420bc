"""Command line: compile the pipeline for Kubeflow Pipelines v2, or submit a compiled spec.

  python -m kubeflow compile --image IMAGE --pipeline-root gs://BUCKET/ROOT --output spec.json
      [--data-root DIR] [--serving-model-dir DIR] [--beam-arg ARG ...]
      [--trainer-cpu 4] [--trainer-memory 16G] [--gpu-type NVIDIA_TESLA_T4 [--gpu-count 1]]
  python -m kubeflow submit --host URL --spec spec.json [--experiment NAME] [--run-name NAME] [--namespace NS]
"""
import argparse
import logging
import os
import sys
import warnings

from kubeflow import config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kubeflow", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    comp = commands.add_parser("compile", help="compile the pipeline to a KFP v2 job spec (JSON)")
    comp.add_argument("--image", required=True, help="container image of every step (kubeflow/Dockerfile)")
    comp.add_argument("--pipeline-root", required=True, help="artifact root, e.g. gs://BUCKET/ROOT")
    comp.add_argument("--output", required=True, help="job spec file to write (.json)")
    comp.add_argument("--data-root", default=config.DEFAULT_DATA_ROOT,
                      help="folder with search_log*.csv, as the steps see it (default: the sample in the image)")
    comp.add_argument("--serving-model-dir", default=None,
                      help="Pusher's destination (default: <pipeline root>/serving/search_ranker)")
    comp.add_argument("--beam-arg", action="append", dest="beam_args", default=None,
                      help="Beam option for the data components, e.g. --beam-arg=--runner=DataflowRunner "
                           f"(repeatable; replaces the default {' '.join(config.DEFAULT_BEAM_ARGS)})")
    comp.add_argument("--no-traffic", action="store_true",
                      help="the data root has no search traffic (impressions*.csv); default: it has")
    comp.add_argument("--config", default=None, metavar="FILE",
                      help="a YAML or JSON file of the run's settings, as for `python -m pipeline run --config`")
    comp.add_argument("--trainer-cpu", default=config.TRAINER_CPU, help="Trainer CPU request and limit")
    comp.add_argument("--trainer-memory", default=config.TRAINER_MEMORY, help="Trainer memory request and limit")
    comp.add_argument("--gpu-type", default=None,
                      help="Trainer accelerator: NVIDIA_TESLA_T4 etc. on Vertex AI, nvidia.com/gpu on Kubeflow")
    comp.add_argument("--gpu-count", type=int, default=None, help="number of accelerators (default 1 with --gpu-type)")

    sub = commands.add_parser("submit", help="submit a compiled spec to a KFP endpoint")
    sub.add_argument("--host", required=True, help="KFP API endpoint, e.g. https://HOST/pipeline")
    sub.add_argument("--spec", required=True, help="job spec written by `compile`")
    sub.add_argument("--experiment", default=config.DEFAULT_EXPERIMENT)
    sub.add_argument("--run-name", default=None)
    sub.add_argument("--namespace", default=None, help="profile namespace (multi-user Kubeflow)")
    return parser


def _check_compile_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bad flags fail here, before TensorFlow loads, with the flag's name in the message."""
    from kubeflow import resources
    if args.output.endswith((".yaml", ".yml")):
        parser.error("--output: write the job spec as .json (submit reads the pipeline root from it)")
    for arg in args.beam_args or []:
        if not arg.startswith("--"):
            parser.error(f"--beam-arg {arg!r}: Beam options look like --name=value "
                         "(write --beam-arg=--runner=DataflowRunner)")
    checks = (("--trainer-cpu", lambda: resources.cpu_cores(args.trainer_cpu)),
              ("--trainer-memory", lambda: resources.memory_gb(args.trainer_memory)),
              ("--gpu-type/--gpu-count", lambda: resources.resource_spec(
                  args.trainer_cpu, args.trainer_memory, args.gpu_type, args.gpu_count)))
    for flag, check in checks:
        try:
            args.trainer_resources = check()
        except ValueError as error:
            parser.error(f"{flag}: {error}")


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    if args.command == "compile":
        _check_compile_args(parser, args)
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        from pipeline import run_config
        try:
            loaded = run_config.load(args.config) if args.config else None
        except run_config.ConfigError as error:
            parser.error(f"--config: {error}")
        overrides = {**loaded.overrides, "run_config": loaded.record()} if loaded else None
        from kubeflow import runner  # loads TensorFlow and TFX
        pipeline = runner.build_pipeline(
            pipeline_root=args.pipeline_root, data_root=args.data_root,
            serving_model_dir=args.serving_model_dir,
            beam_args=config.DEFAULT_BEAM_ARGS if args.beam_args is None else args.beam_args,
            trainer_resources=args.trainer_resources, traffic=not args.no_traffic, overrides=overrides)
        runner.compile_job(pipeline, args.image, args.output)
        print(f"Wrote {args.output} (image {args.image}, pipeline root {args.pipeline_root})")
    else:
        from kubeflow import submit
        try:
            job = submit.load_job(args.spec)
        except ValueError as error:
            parser.error(f"--spec: {error}")
        run_id = submit.submit(args.host, job, args.experiment, args.run_name, args.namespace)
        print(f"Submitted run {run_id} to {args.host} (experiment {args.experiment})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
