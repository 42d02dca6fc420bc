"""Pusher: TFX's stock component (same spec, inputs, PushedModel output and node id) with an executor whose
push to a local filesystem is atomic (components/atomic_pusher/executor.py)."""
from typing import Any, Dict, Optional

from tfx import types
from tfx.components.pusher import component as tfx_pusher
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2

from components.atomic_pusher import executor

RUN_CONFIG_KEY = "run_config"  # in custom_config: {"path", "sha256", "values"} of the run's config file


class Pusher(tfx_pusher.Pusher):
    """Pushes a blessed model to `<base_directory>/<version>/`, whole or not at all.

    Usage:
        pusher = Pusher(model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
                        push_destination=tfx.proto.PushDestination(filesystem=tfx.proto.PushDestination.Filesystem(
                            base_directory=serving_model_dir)))
    """

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
                 push_destination: pusher_pb2.PushDestination, run_config: Optional[Dict[str, Any]] = None):
        """Args:
          model: Model channel, usually the Trainer's `model`.
          model_blessing: ModelBlessing channel, usually the Evaluator's `blessing` (required: nothing unvalidated
            is pushed); a model it does not bless is not pushed (PushedModel `pushed` = 0) and the versions
            already pushed stay as they are.
          push_destination: where to push; a filesystem base directory in TF Serving's layout.
          run_config: the record of the config file the run came from (pipeline/run_config.py), kept in the
            stock spec's custom_config (RUN_CONFIG_KEY) so that MLMD holds it with the push; the push ignores it.
        """
        super().__init__(model=model, model_blessing=model_blessing, push_destination=push_destination,
                         custom_config={RUN_CONFIG_KEY: run_config} if run_config else None)
