"""Command line: serve one model directory in TF Serving's layout over TF Serving's REST API.

  python -m serving --model-base-path build/demo/serving/search_ranker [--model-name search_ranker]
      [--host 127.0.0.1] [--port 8501] [--poll-seconds 2]
"""
import argparse
import logging
import os
import sys
import warnings


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__.split("\n")[0])
    parser.add_argument("--model-base-path", required=True,
                        help="folder of numbered versions: <base>/<version>/saved_model.pb")
    parser.add_argument("--model-name", default=None,
                        help="name in the URLs (default: the base path's last folder, as the Pusher lays it out)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8501, help="REST port (TF Serving's default: 8501)")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="how often to look for a new version (0: never)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: not a TCP port")
    if args.poll_seconds < 0:
        parser.error("--poll-seconds must be 0 or more")
    if not os.path.isdir(args.model_base_path) and "://" not in args.model_base_path:
        parser.error(f"--model-base-path {args.model_base_path}: no such directory")
    args.model_name = args.model_name or os.path.basename(os.path.normpath(args.model_base_path))
    return args


def main(argv=None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from serving import model_store, server  # loads TensorFlow

    store = model_store.ModelStore(args.model_name, args.model_base_path)
    if not store.refresh():
        logging.warning("No loadable version under %s yet; waiting for one", args.model_base_path)
    server.serve(store, args.host, args.port, args.poll_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
