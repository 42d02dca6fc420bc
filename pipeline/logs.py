"""What a person reads while `python -m pipeline run` works: one line as each component starts and one as it
ends, with its elapsed time, plus each component's own headline lines and progress.

TFX logs each component's whole pipeline-IR node and its execution's properties as multi-line protos at INFO
(~4,000 of a Home Depot run's 5,400 lines), and its type checks print "Using Any for unsupported type" for
every field they cannot check (65 lines). Those records go only with `--verbose`; nothing else is dropped,
and warnings and errors always pass.
"""
import logging
import re
import time
from typing import Dict

# Records at INFO and below whose message starts so: TFX's dumps and internal bookkeeping.
VERBOSE_ONLY = (
    "Running launcher for node_info",  # the node's pipeline IR, ~100 lines each
    "Going to run a new execution",  # the execution's properties and artifacts, ~150 lines each
    "Using Any for unsupported type",
    "MetadataStore with DB connection initialized",
    "ArtifactQuery.property_predicate is not supported",
    "Running publisher for",
    "Running executor for",
    "Running driver for",
    "Cleaning up stateless execution info",
    "Execution ",  # the launcher's "Execution N succeeded." (a failure is an ERROR: it passes)
    "Publishing output artifacts",
    "Creating state cache with size",
    "Cleaning up stateful execution info", "Deleted stateful_working_dir",
    "Renamed ", "*** WriteImpl min_shards", "Nonempty beam arg setup_file",
    "select span and version", "latest span and version", "Value type <class",
    "Excluding no splits", "imported tensorflow_text",
    "tensorflow_recommenders is not available", "tensorflow_ranking is not available",
    "tensorflow_io is not available", "tensorflow_decision_forests is not available",
    "struct2tensor is not available",
    "Using deployment config:", "Using connection config:",  # LocalDagRunner's whole deployment, as a proto
    "BatchElements statistics:",
)
# TFX's own warnings that say nothing about the run (its resolver's unsupported filter, an optional
# checksum package): dropped too, unless --verbose. Every other warning passes.
HARMLESS_WARNINGS = ("ArtifactQuery.property_predicate is not supported", "crcmod package not found")
_RESOLVED = re.compile(r"\[\S+\] Resolved inputs: ")  # a component's input artifacts, dumped whole
# tfx_bsl's note per feature and Trainer/Evaluator read ("Feature query has a shape dim {...}. Setting to
# DenseTensor."): 5 lines each, 35 records in the demo.
_FEATURE_SHAPE = re.compile(r"Feature \S+ has a shape ")
_STARTED = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")


class RunLogFilter(logging.Filter):
    """Drops VERBOSE_ONLY records below WARNING and the HARMLESS_WARNINGS, and says how long each component
    took when it finishes."""

    def __init__(self, clock=time.monotonic):
        super().__init__()
        self._clock = clock
        self._started: Dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return record.levelno > logging.WARNING or not message.startswith(HARMLESS_WARNINGS)
        started = _STARTED.match(message)
        if started:
            self._started[started.group(1)] = self._clock()
            record.msg, record.args = f"{started.group(1)} started", None
            return True
        finished = _FINISHED.match(message)
        if finished:
            name = finished.group(1)
            if name in self._started:
                record.msg, record.args = f"{name} finished in {self._clock() - self._started.pop(name):.1f} s", None
            return True
        return not (message.startswith(VERBOSE_ONLY) or _RESOLVED.match(message) or _FEATURE_SHAPE.match(message))


def configure(verbose: bool = False) -> None:
    """INFO to stderr with times; without verbose, through RunLogFilter (on the handler: every logger's
    records pass it, absl's and Beam's included)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not verbose:
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RunLogFilter) for f in handler.filters):
                handler.addFilter(RunLogFilter())
