"""A local HTTP server speaking TF Serving's REST API (v1) for one model, for development and tests where no
tensorflow_model_server binary exists; production serving is TF Serving itself (kubeflow/serving/).

  GET  /v1/models/<name>[/versions/<v>]            model status (the served version, AVAILABLE)
  POST /v1/models/<name>[/versions/<v>]:predict    {"signature_name": ..., "instances": [...]}
Errors are {"error": "..."}: 400 for a bad request (serving/codec.py's limits included), 404 for an unknown
model, version or path, 503 when a request waited more than QUEUE_TIMEOUT_SECONDS for a free scoring slot (the
server is saturated: the client should back off rather than pile up more requests).
Responses to predict carry the version that answered in an X-Model-Version header (TF Serving's REST API
does not report it; its gRPC API does).

HTTP layer: aiohttp, already in requirements.lock. KServe's model server (which implements this V1 protocol)
was the first choice but no release fits the lock: 0.13 needs protobuf<4, 0.16+ protobuf>=5, and 0.14-0.15
pandas>=2.2 (TFMA and tfx-bsl need pandas<2) and httpx<0.28 (google-genai needs >=0.28.1).
TensorFlow calls run in a thread pool so that the event loop keeps answering while a batch is scored.
"""
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import threading
from typing import Any, Dict

from aiohttp import web

from serving import codec
from serving.model_store import LoadedVersion, ModelStore

STORE = web.AppKey("store", ModelStore)
MAX_BODY_BYTES = 16 * 1024 * 1024
SCORING_SLOTS = 2  # requests scored at once (TensorFlow uses the cores inside each); the rest wait their turn
QUEUE_TIMEOUT_SECONDS = 30.0
SCORE_BATCH = 128  # a request's instances go through the signature this many at a time: memory stays bounded
SLOTS = web.AppKey("slots", asyncio.Semaphore)
VERSION_HEADER = "X-Model-Version"
# The version loader's nice value: loading and warming up a version took 30-55 s of CPU on 2 busy cores,
# which at normal priority stretched the requests answered meanwhile.
LOADER_NICENESS = 10

_NAME = "{name:[^/:]+}"
_VERSION = "{version:[0-9]+}"


def create_app(store: ModelStore, poll_seconds: float) -> web.Application:
    """The app; with poll_seconds > 0 it looks for new versions in the background while it runs."""
    app = web.Application(middlewares=[_json_errors], client_max_size=MAX_BODY_BYTES)
    app[STORE] = store
    app.cleanup_ctx.append(_scoring_slots)
    app.router.add_get(f"/v1/models/{_NAME}", status)
    app.router.add_get(f"/v1/models/{_NAME}/versions/{_VERSION}", status)
    app.router.add_post(f"/v1/models/{_NAME}:predict", predict)
    app.router.add_post(f"/v1/models/{_NAME}/versions/{_VERSION}:predict", predict)
    if poll_seconds > 0:
        app.cleanup_ctx.append(_version_poller(poll_seconds))
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _json_errors(request: web.Request, handler) -> web.StreamResponse:
    """aiohttp's own errors (unknown path, wrong method, body too large) in TF Serving's JSON form."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _error(error.status, f"{request.method} {request.path}: {error.reason}")


class _NotFound(Exception):
    pass


def _servable(request: web.Request) -> LoadedVersion:
    """The loaded version the URL asks for (latest, or a specific one), else 404 in TF Serving's words."""
    store = request.app[STORE]
    name, version = request.match_info["name"], request.match_info.get("version")
    wanted = f"Specific({name}, {version})" if version else f"Latest({name})"
    loaded = store.current() if name == store.name else None
    if loaded is None or (version is not None and int(version) != loaded.version):
        raise _NotFound(f"Servable not found for request: {wanted}")
    return loaded


async def status(request: web.Request) -> web.Response:
    try:
        loaded = _servable(request)
    except _NotFound:
        version = request.match_info.get("version")
        which = f"version {version}" if version else "any versions"
        return _error(404, f"Could not find {which} of model {request.match_info['name']}")
    return web.json_response({"model_version_status": [{
        "version": str(loaded.version), "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]})


async def predict(request: web.Request) -> web.Response:
    try:
        loaded = _servable(request)
    except _NotFound as error:
        return _error(404, str(error))
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as error:
        return _error(400, f"the request body is not valid JSON: {error}")
    except RecursionError:
        return _error(400, "the request body is nested too deeply to be a predict request")
    slots = request.app[SLOTS]
    try:
        await asyncio.wait_for(slots.acquire(), QUEUE_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return _error(503, f"the server is busy: no scoring slot came free within {QUEUE_TIMEOUT_SECONDS:.0f} s; "
                           "retry later")
    try:
        result = await asyncio.get_running_loop().run_in_executor(None, _predict, loaded, body)
    except codec.BadRequest as error:
        return _error(400, str(error))
    finally:
        slots.release()
    return web.json_response(result, headers={VERSION_HEADER: str(loaded.version)})


async def _scoring_slots(app: web.Application):
    """cleanup_ctx hook: the semaphore of SCORING_SLOTS, made inside the running event loop."""
    app[SLOTS] = asyncio.Semaphore(SCORING_SLOTS)
    yield


def _predict(loaded: LoadedVersion, body: Any) -> Dict[str, Any]:
    """Decodes, runs the signature and encodes, in a worker thread."""
    import tensorflow as tf  # already loaded by model_store; named here for its error type

    if not isinstance(body, dict):
        raise codec.BadRequest(f"the request body must be a JSON object with \"instances\", not a JSON "
                               f"{type(body).__name__}")
    signature_name = body.get("signature_name", codec.DEFAULT_SIGNATURE)
    signature = loaded.signatures.get(signature_name) if isinstance(signature_name, str) else None
    if signature is None:
        raise codec.BadRequest(f"signature_name {signature_name!r} not found; version {loaded.version} has: "
                               f"{', '.join(sorted(loaded.signatures))}")
    tensors = codec.decode_instances(body, signature, signature_name)
    size = int(next(iter(tensors.values())).shape[0])
    batches = []
    try:
        for start in range(0, size, SCORE_BATCH):  # bounded memory whatever the request's size
            batches.append(signature(**{name: t[start:start + SCORE_BATCH] for name, t in tensors.items()}))
    except tf.errors.InvalidArgumentError as error:  # e.g. bytes that are not a serialized tf.Example
        raise codec.BadRequest(f"signature '{signature_name}' rejected the input: {_op_error(error.message)}") \
            from error
    outputs = {name: tf.concat([batch[name] for batch in batches], axis=0) for name in batches[0]}
    return codec.encode_predictions(outputs)


def _op_error(message: str) -> str:
    """The cause in a TensorFlow op error, without graph-execution boilerplate and node names."""
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[")
    lines = [line.strip() for line in message.splitlines()]
    cause = [line for line in lines if line and not line.startswith(noise)]
    return " ".join(cause) if cause else message


def lower_thread_priority(niceness: int = LOADER_NICENESS) -> None:
    """Raises the calling thread's nice value by niceness (Linux: niceness is per thread); elsewhere, nothing."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + niceness, 19))
    except (OSError, AttributeError):  # not Linux, or not allowed: the loader runs at normal priority
        pass


def version_loader() -> concurrent.futures.ThreadPoolExecutor:
    """The one thread that loads and warms up new versions, at a lower CPU priority than the requests: on a
    busy machine the requests keep their share of the cores while the next version loads (measured with
    benchmarks/serving_load.py)."""
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="version-loader",
                                                 initializer=lower_thread_priority)


def _version_poller(poll_seconds: float):
    """cleanup_ctx hook: a background task that calls store.refresh() every poll_seconds, on version_loader()."""
    async def poller(app: web.Application):
        store = app[STORE]
        loader = version_loader()

        async def loop_forever():
            while True:
                await asyncio.sleep(poll_seconds)
                try:
                    await asyncio.get_running_loop().run_in_executor(loader, store.refresh)
                except Exception:  # noqa: BLE001 - an unforeseen load error must not end polling for good
                    logging.exception("Looking for a new version of %s failed; retrying", store.name)

        task = asyncio.create_task(loop_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        loader.shutdown(wait=False)
    return poller


def serve(store: ModelStore, host: str, port: int, poll_seconds: float) -> None:
    """Runs until SIGINT/SIGTERM."""
    logging.info("Serving model %s from %s on http://%s:%d (polling every %.1f s)",
                 store.name, store.base_path, host, port, poll_seconds)
    web.run_app(create_app(store, poll_seconds), host=host, port=port, print=None)
