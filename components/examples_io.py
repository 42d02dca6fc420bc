"""Reading and writing the Examples artifacts of the augmentation components, as plain Python rows.

The augmentation components work on a handful of text and number columns, so a row is a dict
{column: str | float}; these helpers turn it into a tf.Example and back, and locate an artifact's splits.
"""
import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

from models import features

Row = Dict[str, Any]
_ID_COLUMNS = (features.QUERY_ID, features.PRODUCT_ID)
# Output files, as ExampleGen writes them: gzipped TFRecords of tf.Example.
_FILE_PREFIX = "data_tfrecord"
_FILE_SUFFIX = ".gz"


def split_pattern(artifact: types.Artifact, split: str) -> str:
    """Glob of the files of one split of an Examples artifact; fails naming the split if it is missing."""
    names = artifact_utils.decode_split_names(artifact.split_names)
    if split not in names:
        raise ValueError(f"Examples artifact {artifact.uri} has no split '{split}' (it has {names})")
    return os.path.join(artifact_utils.get_split_uri([artifact], split), "*")


def split_names(artifact: types.Artifact) -> List[str]:
    return artifact_utils.decode_split_names(artifact.split_names)


def to_example(row: Mapping[str, Any]) -> bytes:
    """Serialized tf.Example of a row: str -> bytes_list (UTF-8), int/float -> float_list."""
    feature = {}
    for name, value in row.items():
        if isinstance(value, str):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        else:
            raise TypeError(f"column {name!r}: cannot store {type(value).__name__} {value!r} in a tf.Example")
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def from_example(serialized: bytes) -> Row:
    """A row from a serialized tf.Example with one value per feature (bytes decoded as UTF-8)."""
    example = tf.train.Example.FromString(serialized)
    row: Row = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        if len(values) != 1:
            raise ValueError(f"feature {name!r} has {len(values)} values; the augmentation components expect one")
        value = values[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif name in _ID_COLUMNS:  # CsvExampleGen reads all-digit ids as integers; ids are text here
            value = str(int(value))
        row[name] = value
    return row


def read_rows(pattern: str) -> Iterator[Row]:
    """Rows of the (gzipped) TFRecord files matching pattern, outside Beam (tests, small inputs)."""
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        return
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        yield from_example(record.numpy())


class ReadRows(beam.PTransform):
    """Beam: the rows of the files matching a pattern."""

    def __init__(self, pattern: str):
        super().__init__()
        self._pattern = pattern

    def expand(self, pipeline):
        return (pipeline
                | "ReadTFRecord" >> beam.io.ReadFromTFRecord(self._pattern)
                | "Parse" >> beam.Map(from_example))


class WriteRows(beam.PTransform):
    """Beam: writes rows as gzipped tf.Example TFRecords into one split directory."""

    def __init__(self, split_dir: str):
        super().__init__()
        self._prefix = os.path.join(split_dir, _FILE_PREFIX)

    def expand(self, rows):
        return (rows
                | "Serialize" >> beam.Map(to_example)
                | "WriteTFRecord" >> beam.io.WriteToTFRecord(self._prefix, file_name_suffix=_FILE_SUFFIX))


def write_rows_locally(rows: Iterable[Row], split_dir: str) -> None:
    """Writes rows as one gzipped TFRecord file (tests, and executors' small outputs)."""
    tf.io.gfile.makedirs(split_dir)
    path = os.path.join(split_dir, f"{_FILE_PREFIX}-00000-of-00001{_FILE_SUFFIX}")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row in rows:
            writer.write(to_example(row))


def prepare_output(artifact: types.Artifact, splits: Iterable[str]) -> Dict[str, str]:
    """Sets an output Examples artifact's split names and payload format (tf.Example: what every component
    here writes, and what Transform, StatisticsGen and the Evaluator look for); returns {split: directory},
    created."""
    from tfx.components.util import examples_utils
    from tfx.proto import example_gen_pb2

    splits = list(splits)
    artifact.split_names = artifact_utils.encode_split_names(splits)
    examples_utils.set_payload_format(artifact, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    directories = {}
    for split in splits:
        directories[split] = artifact_utils.get_split_uri([artifact], split)
        tf.io.gfile.makedirs(directories[split])
    return directories


def examples_artifact(uri: str, splits: Mapping[str, Iterable[Row]]) -> types.Artifact:
    """A new Examples artifact at `uri` holding these rows per split (tests, tools, small inputs)."""
    from tfx.types import standard_artifacts
    artifact = standard_artifacts.Examples()
    artifact.uri = uri
    for split, directory in prepare_output(artifact, splits).items():
        write_rows_locally(splits[split], directory)
    return artifact
