"""The local server under load while new versions land (issue 18): bounded, on 127.0.0.1 only.

Starts `python -m serving` on a copy of one pushed version, then
1. load: --clients threads send predict calls (score_text, --instances pairs each) while --switches new
   versions are pushed the way the Pusher pushes (copied into a hidden folder, renamed into place), each
   client at least --requests calls and on until the last pushed version has answered for --tail-seconds,
   so that the load straddles every switch; records each request's latency, status and answering version,
   and gives the latencies of the requests that overlapped a switch (pushed, not yet served) apart;
2. memory: --memory-switches more versions, one after the other, each waited for until it is served, with
   the server's resident memory (VmRSS) after each switch (older version folders are removed from disk);
3. one request of --big-instances instances (refused with 400 beyond serving/codec.py's limit).
Writes a JSON report. Not a test: figures depend on the machine.

    .venv/bin/python -m benchmarks.serving_load --model-dir build/demo/serving/search_ranker \
        --output benchmarks/results/serving_load.json
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Dict, List, Optional

from pipeline import configs
from serving import versions

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy
REQUEST_TIMEOUT_S = 60


def percentile(values: List[float], share: float) -> float:
    """The value at `share` (0..1) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def latency_summary(results: List[tuple]) -> Dict:
    """Count, answered share and latency percentiles of (start, end, status, version) records."""
    latencies = [end - start for start, end, status, _ in results if status == 200]
    summary = {"requests": len(results), "ok": len(latencies)}
    if latencies:
        summary |= {"p50_s": round(percentile(latencies, 0.5), 3), "p99_s": round(percentile(latencies, 0.99), 3),
                    "max_s": round(max(latencies), 3), "mean_s": round(statistics.mean(latencies), 3),
                    "over_5_s": sum(1 for latency in latencies if latency > 5.0)}
    return summary


def overlapping(results: List[tuple], switches: List[tuple]) -> List[tuple]:
    """The (start, end, ...) records that were in flight while a version was pushed and not yet served."""
    return [r for r in results if any(r[0] < served and r[1] > pushed for pushed, served in switches)]


def _call(url: str, body: Optional[dict] = None):
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with _HTTP.open(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, json.loads(response.read()), response.headers.get("X-Model-Version")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), None


def push(source: str, base: str, version: int) -> None:
    """As components/atomic_pusher does: copy into a hidden folder beside the versions, then rename."""
    staging = os.path.join(base, f".push-{version}-{os.getpid()}")
    shutil.copytree(source, staging)
    os.rename(staging, os.path.join(base, str(version)))


def _served_version(url: str) -> Optional[int]:
    try:
        status, body, _ = _call(url)
    except (OSError, ValueError):
        return None
    return int(body["model_version_status"][0]["version"]) if status == 200 else None


def _wait_for_version(url: str, version: int, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if _served_version(url) == version:
            return time.perf_counter() - start
        time.sleep(0.2)
    raise TimeoutError(f"version {version} not served within {timeout:.0f} s")


def run(args) -> Dict:
    source = versions.latest_version_dir(args.model_dir)
    workdir = tempfile.mkdtemp(prefix="serving_load_")
    base = os.path.join(workdir, configs.MODEL_NAME)
    os.makedirs(base)
    push(source, base, 1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    log = open(os.path.join(workdir, "server.log"), "w", encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "serving", "--model-base-path", base, "--port", str(port),
                               "--poll-seconds", "1"], stdout=log, stderr=subprocess.STDOUT, env=env)
    root = f"http://127.0.0.1:{port}/v1/models/{configs.MODEL_NAME}"
    report: Dict = {"model": source, "clients": args.clients, "requests_per_client": args.requests,
                    "instances_per_request": args.instances}
    try:
        report["start_seconds"] = round(_wait_for_version(root, 1, 300), 1)
        report["rss_mb_at_start"] = round(rss_mb(server.pid), 0)
        body = {"signature_name": "score_text", "instances": [
            {"query": "running shoes", "product_title": f"Running shoes, mesh, size {i}"}
            for i in range(args.instances)]}
        results: List[tuple] = []  # (start, end, status, version), seconds since the load began
        lock = threading.Lock()
        switching_done = threading.Event()

        def client():
            done = 0
            while done < args.requests or not switching_done.is_set():
                start = time.perf_counter() - load_start
                try:
                    status, _, version = _call(f"{root}:predict", body)
                except OSError as error:  # a timeout or a refused connection counts as a failure
                    status, version = f"error: {error}", None
                with lock:
                    results.append((start, time.perf_counter() - load_start, status, version))
                done += 1

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        load_start = time.perf_counter()
        for thread in threads:
            thread.start()
        switches = []  # (pushed, served), seconds since the load began
        for version in range(2, 2 + args.switches):
            time.sleep(args.switch_every)
            pushed = time.perf_counter() - load_start
            push(source, base, version)
            switches.append((pushed, pushed + _wait_for_version(root, version, 300)))
        time.sleep(args.tail_seconds)  # the newest version under the same load for a while
        switching_done.set()
        for thread in threads:
            thread.join()
        report["load"] = {
            "wall_seconds": round(time.perf_counter() - load_start, 1), "requests": len(results),
            "statuses": {s: sum(1 for r in results if str(r[2]) == s) for s in sorted({str(r[2]) for r in results})},
            "answers_per_version": {str(v): sum(1 for r in results if r[3] == v)
                                    for v in sorted({r[3] for r in results if r[3]})},
            "switches": [{"pushed_at_s": round(p, 1), "served_after_s": round(s - p, 1)} for p, s in switches],
            "all": latency_summary(results),
            "during_switches": latency_summary(overlapping(results, switches))}
        first = 2 + args.switches
        rss = []
        for version in range(first, first + args.memory_switches):
            push(source, base, version)
            _wait_for_version(root, version, 300)
            shutil.rmtree(os.path.join(base, str(version - 1)))  # the server holds only the one it serves
            rss.append(round(rss_mb(server.pid), 0))
        report["memory"] = {"switches": args.memory_switches, "rss_mb_after_each": rss}
        big = {"signature_name": "score_text",
               "instances": [{"query": "q", "product_title": "t"}] * args.big_instances}
        start = time.perf_counter()
        status, answer, _ = _call(f"{root}:predict", big)
        report["big_request"] = {"instances": args.big_instances, "status": status,
                                 "seconds": round(time.perf_counter() - start, 2),
                                 "error": answer.get("error"), "rss_mb_after": round(rss_mb(server.pid), 0)}
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving_load", description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True, help="a pushed model: a version folder or a base of versions")
    parser.add_argument("--output", default=None, help="JSON report to write")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20,
                        help="requests per client at least (each goes on until the switches are done)")
    parser.add_argument("--instances", type=int, default=10, help="pairs per request")
    parser.add_argument("--switches", type=int, default=2, help="versions pushed during the load")
    parser.add_argument("--switch-every", type=float, default=10.0, help="seconds between those pushes")
    parser.add_argument("--tail-seconds", type=float, default=10.0,
                        help="load on the last pushed version after it is served")
    parser.add_argument("--memory-switches", type=int, default=10)
    parser.add_argument("--big-instances", type=int, default=10_000)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    text = json.dumps(run(args), indent=2, sort_keys=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
