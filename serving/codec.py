"""TF Serving's REST predict format (row format, "instances") to tensors and back.

Request: {"signature_name": "score_text", "instances": [{"query": "...", "product_title": "..."}, ...]}.
A signature with one input also takes bare values: {"instances": [{"b64": "<base64 bytes>"}, ...]} for
serving_default's serialized tf.Example. Strings are UTF-8 text, or {"b64": ...} for binary values.
Response: {"predictions": [...]}: one value per instance if the signature has one output (as `score`), else one
object per instance keyed by output name.

Every request is bounded: at most MAX_INSTANCES instances and MAX_INPUT_CHARS characters (bytes for b64) per
value, each refused with the limit named; the ranker's text inputs (TEXT_INPUTS) must not be empty or blank.
"""
import base64
import binascii
from typing import Any, Dict, List, Mapping

import numpy as np
import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"
MAX_INSTANCES = 1000  # a ranking request is one query's candidates: a few hundred at most
MAX_INPUT_CHARS = 10_000  # the encoder reads 128 tokens of a pair; a 5 MB title is an error, not a query
# The ranker's raw-text inputs (models/features.py names): an empty one has nothing to rank by.
TEXT_INPUTS = ("query", "product_title")


class BadRequest(ValueError):
    """The request does not fit the signature; the message names the field or instance."""


def input_specs(signature) -> Dict[str, tf.TensorSpec]:
    """{input name: TensorSpec} of a signature's keyword inputs."""
    return dict(signature.structured_input_signature[1])


def _decode_value(value: Any, spec: tf.TensorSpec, where: str) -> Any:
    """One instance's value for one input: text or {"b64"} for strings, numbers (or nested lists) otherwise."""
    if spec.dtype == tf.string:
        if isinstance(value, str):
            if len(value) > MAX_INPUT_CHARS:
                raise BadRequest(f"{where}: {len(value)} characters, more than the limit of {MAX_INPUT_CHARS}")
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError as error:  # JSON allows lone surrogates ("\ud800"); UTF-8 does not
                raise BadRequest(f"{where}: not valid Unicode text ({error.reason} at character "
                                 f"{error.start})") from error
        if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
            try:
                decoded = base64.b64decode(value["b64"], validate=True)
            except binascii.Error as error:
                raise BadRequest(f"{where}: 'b64' is not valid base64 ({error})") from error
            if len(decoded) > MAX_INPUT_CHARS:
                raise BadRequest(f"{where}: {len(decoded)} bytes, more than the limit of {MAX_INPUT_CHARS}")
            return decoded
        if isinstance(value, list):
            return [_decode_value(v, spec, where) for v in value]
        raise BadRequest(f"{where}: expected a string or {{\"b64\": ...}}, got {type(value).__name__}")
    if isinstance(value, (str, dict)):
        raise BadRequest(f"{where}: expected a {spec.dtype.name} value, got {type(value).__name__}")
    return value


def _instance_inputs(instance: Any, index: int, specs: Mapping[str, tf.TensorSpec],
                     signature_name: str) -> Dict[str, Any]:
    """{input name: raw value} of one instance; bare values are accepted for a one-input signature."""
    names = sorted(specs)
    is_named = isinstance(instance, dict) and not (set(instance) == {"b64"} and "b64" not in specs)
    if not is_named:
        if len(names) != 1:
            raise BadRequest(f"instance {index} must be an object with the inputs of signature "
                             f"'{signature_name}': {', '.join(names)}")
        return {names[0]: instance}
    missing = [name for name in names if name not in instance]
    if missing:
        raise BadRequest(f"instance {index} is missing input '{missing[0]}' of signature '{signature_name}' "
                         f"(expects {', '.join(names)})")
    unknown = sorted(set(instance) - set(names))
    if unknown:
        raise BadRequest(f"instance {index} has unknown input '{unknown[0]}'; signature '{signature_name}' "
                         f"takes {', '.join(names)}")
    return instance


def decode_instances(body: Any, signature, signature_name: str) -> Dict[str, tf.Tensor]:
    """The request's "instances" as one batched tensor per signature input."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object with \"instances\"")
    if "instances" not in body:
        what = "the columnar \"inputs\" format is not supported" if "inputs" in body else "missing"
        raise BadRequest(f"\"instances\": {what}; send {{\"instances\": [...]}} (TF Serving's row format)")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadRequest("\"instances\" must be a non-empty list")
    if len(instances) > MAX_INSTANCES:
        raise BadRequest(f"{len(instances)} instances, more than the limit of {MAX_INSTANCES} per request: "
                         "send them in several requests")
    specs = input_specs(signature)
    columns: Dict[str, List[Any]] = {name: [] for name in specs}
    for index, instance in enumerate(instances):
        for name, value in _instance_inputs(instance, index, specs, signature_name).items():
            decoded = _decode_value(value, specs[name], f"instance {index} input '{name}'")
            if name in TEXT_INPUTS and isinstance(decoded, bytes) and not decoded.strip():
                raise BadRequest(f"instance {index} input '{name}' is empty: there is nothing to rank by")
            columns[name].append(decoded)
    tensors = {}
    for name, values in columns.items():
        try:
            tensors[name] = tf.constant(values, dtype=specs[name].dtype)
        except (ValueError, TypeError) as error:
            raise BadRequest(f"input '{name}': values do not form a {specs[name].dtype.name} batch ({error})") \
                from error
        if not specs[name].shape.is_compatible_with(tensors[name].shape):
            raise BadRequest(f"input '{name}': batch shape {tensors[name].shape} does not fit the signature's "
                             f"{specs[name].shape}")
    return tensors


def _json_value(row: Any) -> Any:
    """A tensor row as JSON: numbers stay numbers, bytes become text (or {"b64"} if not UTF-8)."""
    if isinstance(row, bytes):
        return _json_bytes(row)
    value = np.asarray(row)
    if value.dtype == object or value.dtype.kind == "S":
        return [_json_value(item) for item in value] if value.ndim else _json_value(value.item())
    return value.tolist()


def _json_bytes(value: bytes) -> Any:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(value).decode("ascii")}


def encode_predictions(outputs: Mapping[str, tf.Tensor]) -> Dict[str, List[Any]]:
    """{"predictions": [...]} in TF Serving's row format."""
    arrays = {name: tensor.numpy() for name, tensor in outputs.items()}
    if len(arrays) == 1:
        (array,) = arrays.values()
        return {"predictions": [_json_value(row) for row in array]}
    batch = len(next(iter(arrays.values())))
    return {"predictions": [{name: _json_value(array[i]) for name, array in sorted(arrays.items())}
                            for i in range(batch)]}
