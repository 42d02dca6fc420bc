"""components/examples_io.py: every Examples output the project's components write says its payload format, as
TFX's ExampleGen does, so Transform, StatisticsGen and the Evaluator read it without guessing."""
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2

from components import examples_io
from models import features


def test_examples_written_here_say_they_hold_tf_examples(tmp_path):
    rows = [{features.QUERY_ID: "q1", features.QUERY: "drill", features.PRODUCT_ID: "p1",
             features.PRODUCT_TITLE: "Cordless drill", features.RELEVANCE: 3.0}]
    artifact = examples_io.examples_artifact(str(tmp_path / "examples"), {"train": rows, "eval": rows})
    # The property itself, not get_payload_format's fallback for artifacts that predate it.
    assert artifact.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"
    assert examples_utils.get_payload_format(artifact) == example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE
    assert examples_io.split_names(artifact) == ["train", "eval"]
    assert list(examples_io.read_rows(examples_io.split_pattern(artifact, "eval"))) == rows
