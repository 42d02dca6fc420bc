"""A run's settings from a file: `python -m pipeline run --config FILE` (YAML or JSON).

The keys are the create_pipeline arguments a user's data decides, validated against the dataclasses and
hparams that define them, so a typo fails before anything runs, naming the key (`augmentation.labeling.
min_confidnce: unknown key; known: ...`) or the value. The command line's flags win over the file; what the
file leaves out keeps the defaults of pipeline/configs.py. Example (every key optional):

    grade_scale: "1:3"              # the judgements' grades (models/features.GradeScale)
    encoder: all-MiniLM-L6-v2       # one of configs.ENCODERS
    seed: 7
    train_steps: null               # null: sized by the data (epochs over each Trainer's rows)
    serve_zero_shot_weight: 0.5
    zero_shot_floor: enforce        # or report
    augmentation:                   # configs.Augmentation's fields
      enabled: true
      max_products: 200
      max_seconds: 600
      teacher_view_encoders: [all-mpnet-base-v2]
      labeling: {min_confidence: 0.3, weight_traffic: 1.0}   # filtering.Settings
      retrieval: {products_per_query: 5}                      # candidates.Settings
    trainer: {train_epochs: 2, loss: pointwise_margin_mse}    # the student: models/cross_encoder.py hparams
    teacher: {train_epochs: 4}                                # the teacher's hparams
"""
import dataclasses
import hashlib
import json
import os
import typing
from typing import Any, Dict, Mapping, Optional

from pipeline import configs

# Keys whose value follows from others: a file may not set them.
DERIVED = {"augmentation.labeling.teacher_score": "follows the teacher's loss (teacher.loss / pointwise_loss)"}
# Hparams whose None means something (models/cross_encoder.py DEFAULT_HPARAMS says what).
NULLABLE_HPARAMS = ("encoder_handle", "clip_norm", "early_stopping_patience")
# Top-level keys besides the two mappings of hparams and `augmentation`, with their checks.
_SCALARS = {"grade_scale": str, "encoder": str, "seed": int, "train_steps": Optional[int],
            "serve_zero_shot_weight": float, "zero_shot_floor": str}
_HPARAMS_SECTIONS = ("trainer", "teacher")
TOP_LEVEL_KEYS = tuple(_SCALARS) + ("augmentation",) + _HPARAMS_SECTIONS


class ConfigError(ValueError):
    """A config file that cannot be used: the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A validated config file: create_pipeline's keyword arguments, and where they came from."""
    path: str
    sha256: str
    values: Dict[str, Any]  # the file's keys, as validated (JSON-able)
    overrides: Dict[str, Any]  # create_pipeline keyword arguments

    def record(self) -> Dict[str, Any]:
        """What the run records in MLMD (the Pusher's custom_config) and prints in its summary."""
        return {"path": self.path, "sha256": self.sha256, "values": self.values}


def load(path: str) -> RunConfig:
    """Reads and validates a YAML (.yaml, .yml) or JSON (.json) config file."""
    path = os.path.abspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    try:
        text = data.decode("utf-8")
        if path.endswith((".yaml", ".yml")):
            import yaml  # in the lock (TFX needs it)
            values = yaml.safe_load(text)
        elif path.endswith(".json"):
            values = json.loads(text)
        else:
            raise ConfigError(f"{path}: a config file is .yaml, .yml or .json")
    except ConfigError:
        raise
    except Exception as error:  # yaml.YAMLError, JSONDecodeError, UnicodeDecodeError: name the file
        raise ConfigError(f"{path}: not readable as {'YAML' if path.endswith(('.yaml', '.yml')) else 'JSON'}: "
                          f"{error}") from None
    values = {} if values is None else values
    return RunConfig(path=path, sha256=hashlib.sha256(data).hexdigest(), values=values,
                     overrides=overrides(values, path))


def overrides(values: Any, source: str = "config") -> Dict[str, Any]:
    """create_pipeline keyword arguments from a config mapping; ConfigError naming `source` and the key."""
    where = lambda key: f"{source}: {key}"  # noqa: E731 (one line per error site)
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: the config is a mapping of keys, got {type(values).__name__}")
    unknown = sorted(set(values) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{where(unknown[0])}: unknown key; known: {', '.join(TOP_LEVEL_KEYS)}")
    result: Dict[str, Any] = {}
    for key, kind in _SCALARS.items():
        if key in values:
            result[key] = _checked(values[key], kind, where(key))
    if "grade_scale" in result:
        result["grade_scale"] = _grade_scale(result["grade_scale"], where("grade_scale"))
    if "encoder" in result and result["encoder"] not in configs.ENCODERS:
        raise ConfigError(f"{where('encoder')}: {result['encoder']!r} is not one of {', '.join(configs.ENCODERS)}")
    if "zero_shot_floor" in result and result["zero_shot_floor"] not in configs.FLOOR_MODES:
        raise ConfigError(f"{where('zero_shot_floor')}: {result['zero_shot_floor']!r} is not one of "
                          f"{', '.join(configs.FLOOR_MODES)}")
    if "serve_zero_shot_weight" in result:
        _call(configs.serving_hparams, where("serve_zero_shot_weight"), result["serve_zero_shot_weight"])
    if "augmentation" in values:
        result["augmentation"] = dataclass_from(configs.Augmentation, values["augmentation"],
                                                where("augmentation"), "augmentation",
                                                base=configs.AUGMENTATION)
        from components.augmentation import llm_backends  # pure Python: the constructors' signatures

        _call(llm_backends.check_config, where("augmentation.backend_config"), result["augmentation"].backend,
              result["augmentation"].backend_config)
        if result["augmentation"].llm_judge is not None:
            from components.teacher_labeling import llm_judge

            _call(llm_judge.Settings.from_config, where("augmentation.llm_judge"), result["augmentation"].llm_judge)
        for name in result["augmentation"].teacher_view_encoders:
            if name not in configs.ENCODERS:
                raise ConfigError(f"{where('augmentation.teacher_view_encoders')}: {name!r} is not one of "
                                  f"{', '.join(configs.ENCODERS)}")
    for section in _HPARAMS_SECTIONS:
        if section in values:
            result[f"{section}_hparams"] = hparams_from(values[section], where(section))
    return result


def dataclass_from(cls, values: Any, where: str, path: str, base=None):
    """An instance of a (frozen) dataclass: `base` (or the class's defaults) with the mapping's fields."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__}'s fields, got {values!r}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    changes = {}
    for key, value in values.items():
        key_path = f"{path}.{key}"
        if key not in fields:
            raise ConfigError(f"{where}.{key}: unknown key; known: {', '.join(fields)}")
        if key_path in DERIVED:
            raise ConfigError(f"{where}.{key}: not settable, it {DERIVED[key_path]}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            current = getattr(base, key) if base is not None else hint()
            changes[key] = dataclass_from(hint, value, f"{where}.{key}", key_path, base=current)
        else:
            changes[key] = _checked(value, hint, f"{where}.{key}")
    return _call(lambda: dataclasses.replace(base, **changes) if base is not None else cls(**changes), where)


def hparams_from(values: Any, where: str) -> Dict[str, Any]:
    """Trainer hparams overrides, each key one of models/cross_encoder.py DEFAULT_HPARAMS', typed like its default."""
    from models import cross_encoder  # TensorFlow: only once a file names hparams

    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of hparams, got {values!r}")
    known = cross_encoder.DEFAULT_HPARAMS
    result = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key; known: {', '.join(sorted(known))}")
        default = known[key]
        kind = str if default is None else type(default)
        result[key] = _checked(value, Optional[kind] if key in NULLABLE_HPARAMS else kind, f"{where}.{key}")
    return result


def _grade_scale(value: Any, where: str) -> str:
    from models import features

    return str(_call(features.GradeScale.parse, where, value))


def _call(function, where: str, *args):
    try:
        return function(*args)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _checked(value: Any, hint, where: str) -> Any:
    """The value if it has the type `hint` says (ints for floats, lists for tuples), else ConfigError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        return _checked(value, inner[0], where)
    if origin in (tuple, typing.Tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_checked(item, args[0], f"{where}[{index}]") for index, item in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (bool, str) and isinstance(value, hint):
        return value
    if hint is typing.Any:
        return value
    names = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}
    raise ConfigError(f"{where}: expected {names.get(hint, getattr(hint, '__name__', str(hint)))}, got {value!r}")
