"""Resumable runs (issue 6 item 4): a real run killed (SIGKILL) while its Trainer trains, then started again.

The second run must serve everything upstream of the Trainer from MLMD's cache, train again (the killed
execution and its half-written output are never used), bless, push a model that loads and scores.
Without augmentation (the resume logic is the same for every node) and with a short training.

Both runs go through BeamDagRunner (the end-to-end test covers LocalDagRunner): this is also the Beam
runner's whole-pipeline test, from the command line and in process.
"""
import os
import signal
import subprocess
import sys
import time

import ml_metadata as mlmd
import numpy as np
import pytest
from tfx import v1 as tfx

from pipeline import configs, runners, scoring, summary

pytestmark = pytest.mark.slow  # whole pipeline runs, training or a real server

TRAIN_STEPS = 90  # 3 rounds of 30 steps; 30 steps left NDCG@10 at 0.83, short of the 0.85 blessing needs
UPSTREAM = ("SearchLogExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate",
            "Transform")
DOWNSTREAM = ("Trainer", "Evaluator", "Pusher")
Execution = mlmd.proto.Execution
RUNNER = "beam"
TRAINING_TIMEOUT_S = 1800  # the upstream components run first; the machine may be shared
# The zero-shot floor reported, not enforced: on the sample the trained model ranks below the zero-shot
# encoder, and this test is about resuming to a push (test_zero_shot_floor.py and the e2e test check the floor).
FLOOR = "report"


def _store(output_dir):
    return mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(
        configs.metadata_path(output_dir)))


def _executions(store, component):
    """The component's executions, oldest first."""
    node = store.get_context_by_type_and_name("node", f"{configs.PIPELINE_NAME}.{component}")
    return sorted(store.get_executions_by_context(node.id), key=lambda e: e.id) if node else []


def _states(store):
    """{component: [execution states, oldest first]} of the components this test follows."""
    return {c: [e.last_known_state for e in _executions(store, c)] for c in UPSTREAM + DOWNSTREAM}


def _events(store, execution_id, kind, key):
    return [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type == kind and e.path.steps[0].key == key]


def _training_under_way(log_path):
    """True once the Trainer has taken 10 optimiser steps (its TrainingLogger's first line): well inside fit(),
    weights already changed, the export still far off."""
    with open(log_path, encoding="utf-8", errors="replace") as log:
        return f"step 10/{TRAIN_STEPS} " in log.read()


def _start_run(output_dir, log_path):
    """`python -m pipeline run` in its own process group (so that one signal kills it and its children)."""
    command = [sys.executable, "-m", "pipeline", "run", "--runner", RUNNER, "--no-augmentation",
               "--data", str(configs.SAMPLE_DATA_DIR), "--output", output_dir, "--train-steps", str(TRAIN_STEPS),
               "--zero-shot-floor", FLOOR]
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=str(configs.REPO_ROOT), env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})


def _kill_during_training(process, log_path):
    try:
        deadline = time.monotonic() + TRAINING_TIMEOUT_S
        while not _training_under_way(log_path):
            if process.poll() is not None:
                pytest.fail(f"the run ended (exit {process.returncode}) before the Trainer trained:\n"
                            + open(log_path, encoding="utf-8", errors="replace").read()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail(f"the Trainer did not start training within {TRAINING_TIMEOUT_S} s")
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: Beam or TF helper processes too
        process.wait()


def _killed_state(output_dir):
    """What the killed run left in MLMD: execution states per component and the Trainer's execution."""
    store = _store(output_dir)
    [trainer] = _executions(store, "Trainer")
    return {"states": _states(store), "trainer": trainer,
            "trainer_outputs": _events(store, trainer.id, mlmd.proto.Event.OUTPUT, "model")}


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """Run 1 killed during training, run 2 in process with the same settings: (output dir, killed state)."""
    output_dir = str(tmp_path_factory.mktemp("resume"))
    log_path = os.path.join(output_dir, "killed_run.log")
    _kill_during_training(_start_run(output_dir, log_path), log_path)
    killed = _killed_state(output_dir)
    runners.run(RUNNER, str(configs.SAMPLE_DATA_DIR), output_dir, runners.beam_args(workers=1),
                overrides={"train_steps": TRAIN_STEPS, "augmentation": configs.NO_AUGMENTATION,
                           "zero_shot_floor": FLOOR})
    return output_dir, killed


def test_the_kill_landed_while_the_trainer_ran(resumed):
    _, killed = resumed
    assert killed["states"] == {**{c: [Execution.COMPLETE] for c in UPSTREAM},
                                "Trainer": [Execution.RUNNING], "Evaluator": [], "Pusher": []}
    # The Trainer's output artifact is published only when it succeeds: the killed one never reached MLMD.
    assert killed["trainer_outputs"] == []


def test_rerun_serves_upstream_from_cache_and_trains_again(resumed):
    output_dir, killed = resumed
    store = _store(output_dir)
    assert _states(store) == {**{c: [Execution.COMPLETE, Execution.CACHED] for c in UPSTREAM},
                      # the killed execution stays RUNNING in MLMD: each run has its own pipeline-run
                      # context, so no later run reuses it (README, "Determinism and resuming")
                      "Trainer": [Execution.RUNNING, Execution.COMPLETE],
                      "Evaluator": [Execution.COMPLETE], "Pusher": [Execution.COMPLETE]}
    assert _executions(store, "Trainer")[0].id == killed["trainer"].id


def test_evaluator_and_pusher_consumed_the_new_model_not_the_killed_one(resumed):
    output_dir, killed = resumed
    store = _store(output_dir)
    new_trainer = _executions(store, "Trainer")[-1]
    [produced] = _events(store, new_trainer.id, mlmd.proto.Event.OUTPUT, "model")
    for consumer in ("Evaluator", "Pusher"):
        [consumed] = _events(store, _executions(store, consumer)[-1].id, mlmd.proto.Event.INPUT, "model")
        assert consumed.artifact_id == produced.artifact_id, consumer
    [model] = store.get_artifacts_by_id([produced.artifact_id])
    killed_dir = os.path.join(configs.pipeline_root(output_dir), "Trainer", "model", str(killed["trainer"].id))
    assert model.uri.rstrip("/") != killed_dir and model.state == mlmd.proto.Artifact.LIVE
    # The killed execution's half-written directory is left behind, unreferenced.
    assert os.path.isdir(killed_dir) and not store.get_artifacts_by_uri(killed_dir)


def test_resumed_run_blesses_and_pushes_a_model_that_scores(resumed):
    output_dir, _ = resumed
    outcome = summary.collect(output_dir)
    assert outcome["blessed"] and outcome["pushed"], outcome["validation_failures"]
    titles = ["Stride Lite men's running shoes, breathable mesh", "Bamboo shoe shelf, 4-tier"]
    scores = scoring.score_pairs(configs.serving_model_dir(output_dir), "running shoes", titles)
    assert len(scores) == 2 and np.all(np.isfinite(scores))
