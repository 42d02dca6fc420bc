"""Latency of scoring one query's candidates: over HTTP (the local TF Serving-style server) and in-process
(the SavedModel's signatures), for both signatures. Prints a table and writes the figures as JSON.

  python -m benchmarks.serving_latency --model-base-path build/demo/serving/search_ranker \\
      --output build/serving_latency.json [--candidates 100] [--repeats 200] [--url http://127.0.0.1:8501] \\
      [--reference-model-base-path DIR]

Without --url it starts `python -m serving` on a free port of 127.0.0.1 and stops it at the end. With a
reference model (e.g. the same pipeline's model served without the zero-shot ensemble) each case is timed
for the model and then for the reference, in rounds, and the report gives model / reference ratios: on shared
cores a ratio measured in one run means more than two absolute figures measured apart.
Not a test: figures depend on the machine.
"""
import argparse
import base64
import contextlib
import csv
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.parse
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow_text  # noqa: F401  (the cross-encoder's tokeniser ops, before loading the model)

from pipeline import configs

WARMUP_CALLS = 5
MAX_REPEATS = 10_000
START_TIMEOUT_S = 180


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--model-base-path", required=True, help="folder of numbered SavedModel versions")
    parser.add_argument("--output", required=True, help="JSON file to write")
    parser.add_argument("--query", default="running shoes")
    parser.add_argument("--candidates", type=int, default=100, help="product titles scored per request")
    parser.add_argument("--repeats", type=int, default=200, help=f"timed requests per case (at most {MAX_REPEATS})")
    parser.add_argument("--url", default=None, help="an already running server (default: start one on 127.0.0.1)")
    parser.add_argument("--reference-model-base-path", default=None,
                        help="a second model timed in the same run (its own local server); ratios model / it")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of model and reference per case")
    args = parser.parse_args(argv)
    if args.reference_model_base_path and args.url:
        parser.error("--url names one server: with --reference-model-base-path both servers are started here")
    if not 1 <= args.rounds <= args.repeats:
        parser.error("--rounds must be between 1 and --repeats")
    if not 1 <= args.repeats <= MAX_REPEATS:
        parser.error(f"--repeats must be between 1 and {MAX_REPEATS}")
    if args.candidates < 1:
        parser.error("--candidates must be at least 1")
    return args


def _candidates(count: int) -> List[Dict[str, str]]:
    """The first `count` products of the bundled catalogue (repeated if it has fewer)."""
    with open(configs.SAMPLE_DATA_DIR / configs.CATALOG_FILE, encoding="utf-8") as f:
        products = list(csv.DictReader(f))
    return [products[i % len(products)] for i in range(count)]


def _time(call: Callable[[], object], repeats: int, warmup: int = WARMUP_CALLS) -> List[float]:
    """Seconds of `repeats` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def _summary(seconds: Sequence[float]) -> Dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "repeats": len(seconds)}


def _start_server(base_path: str):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "serving", "--model-base-path", base_path,
                                "--host", "127.0.0.1", "--port", str(port), "--poll-seconds", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as connection:
                connection.request("GET", f"/v1/models/{os.path.basename(os.path.normpath(base_path))}")
                if connection.getresponse().status == 200:
                    return process, url
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError(f"the server was not ready in {START_TIMEOUT_S} s")
        time.sleep(0.5)


def _http_caller(url: str, model: str, body: dict) -> Callable[[], object]:
    """One kept-alive connection, as a client in production would have; checks every answer."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    payload = json.dumps(body).encode("utf-8")
    count = len(body["instances"])

    def call():
        connection.request("POST", f"/v1/models/{model}:predict", body=payload,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200 or len(answer["predictions"]) != count:
            raise RuntimeError(f"unexpected answer {response.status}: {str(answer)[:200]}")
        return answer
    return call


def _examples(query: str, products: Sequence[Dict[str, str]]) -> List[bytes]:
    from components import examples_io
    from models import features

    return [examples_io.to_example({features.QUERY_ID: "bench", features.QUERY: query,
                                    features.PRODUCT_ID: p["product_id"], features.PRODUCT_TITLE: p["product_title"]})
            for p in products]


def _cases(base_path: str, url: str, query: str, products: Sequence[Dict[str, str]]
           ) -> Tuple[str, Dict[Tuple[str, str], Callable[[], object]]]:
    """The latest version's directory and one call per (mode, signature), all scoring the same candidates."""
    import tensorflow as tf
    from pipeline import scoring

    model = os.path.basename(os.path.normpath(base_path))
    version_dir = scoring.latest_version_dir(base_path)
    loaded = tf.saved_model.load(version_dir)
    titles = [p["product_title"] for p in products]
    examples = _examples(query, products)
    score_text, serving_default = loaded.signatures["score_text"], loaded.signatures["serving_default"]
    return version_dir, {
        ("in-process", "score_text"): lambda: score_text(query=tf.constant([query] * len(titles)),
                                                         product_title=tf.constant(titles)),
        ("in-process", "serving_default"): lambda: serving_default(examples=tf.constant(examples)),
        ("http", "score_text"): _http_caller(url, model, {"signature_name": "score_text", "instances": [
            {"query": query, "product_title": title} for title in titles]}),
        ("http", "serving_default"): _http_caller(url, model, {"instances": [
            {"b64": base64.b64encode(e).decode("ascii")} for e in examples]}),
    }


def run(args) -> Dict:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    products = _candidates(args.candidates)
    paths = {"model": args.model_base_path}
    if args.reference_model_base_path:
        paths["reference"] = args.reference_model_base_path
    with contextlib.ExitStack() as stack:
        urls = {}
        for role, path in paths.items():
            if args.url:
                urls[role] = args.url
            else:
                process, urls[role] = _start_server(path)
                stack.callback(_stop, process)
        versions, cases = {}, {}
        for role, path in paths.items():
            versions[role], cases[role] = _cases(path, urls[role], args.query, products)
        # Alternate the models in rounds inside each case, so that both see the same load on shared cores.
        per_round = max(args.repeats // args.rounds, 1)
        seconds = {(role, case): [] for role in paths for case in cases["model"]}
        for case in cases["model"]:
            for round_index in range(args.rounds):
                for role in paths:
                    seconds[(role, case)] += _time(cases[role][case], per_round,
                                                   warmup=WARMUP_CALLS if round_index == 0 else 0)
    results = [dict(model=role, mode=mode, signature=signature, **_summary(seconds[(role, (mode, signature))]))
               for (role, (mode, signature)) in seconds]
    report = {"model": versions["model"], "query": args.query, "candidates": len(products), "url": urls["model"],
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "tensorflow": tf.__version__},
              "results": results}
    if "reference" in paths:
        report["reference"] = versions["reference"]
        report["ratios"] = ratios(results)
    return report


def _stop(process) -> None:
    process.terminate()
    process.wait(timeout=30)


def ratios(results: Sequence[Dict]) -> List[Dict]:
    """model / reference for each (mode, signature): p50 and mean latency."""
    by_key = {(r["model"], r["mode"], r["signature"]): r for r in results}
    out = []
    for (role, mode, signature), r in by_key.items():
        reference = by_key.get(("reference", mode, signature))
        if role == "model" and reference:
            out.append({"mode": mode, "signature": signature,
                        "p50": r["p50_ms"] / reference["p50_ms"], "mean": r["mean_ms"] / reference["mean_ms"]})
    return out


def render(report: Dict) -> str:
    lines = [f"Scoring {report['candidates']} candidates for one query ({report['results'][0]['repeats']} "
             f"requests each, {report['machine']['cpus']} CPUs)",
             f"{'model':<11}{'mode':<12}{'signature':<18}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}"]
    for r in report["results"]:
        lines.append(f"{r.get('model', 'model'):<11}{r['mode']:<12}{r['signature']:<18}{r['p50_ms']:>9.2f}"
                     f"{r['p99_ms']:>9.2f}{r['mean_ms']:>9.2f}")
    for r in report.get("ratios", []):
        lines.append(f"model / reference, {r['mode']} {r['signature']}: p50 x{r['p50']:.2f}, mean x{r['mean']:.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = _parse(argv)
    report = run(args)
    print(render(report))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
