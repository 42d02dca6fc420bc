"""kubeflow/serving/*.yaml parse and agree with the pipeline's model name and TF Serving's ports (no cluster
here: these are static checks)."""
import os

import yaml

from pipeline import configs

SERVING_DIR = configs.REPO_ROOT / "kubeflow" / "serving"


def _documents(name):
    with open(SERVING_DIR / name, encoding="utf-8") as f:
        return {doc["kind"]: doc for doc in yaml.safe_load_all(f) if doc}


def test_tf_serving_deployment_and_service():
    docs = _documents("tf-serving.yaml")
    assert set(docs) == {"Deployment", "Service"}
    pod = docs["Deployment"]["spec"]["template"]
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert docs["Service"]["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["image"].startswith("tensorflow/serving:")
    args = container["args"]
    assert f"--model_name={configs.MODEL_NAME}" in args
    assert "--port=8500" in args and "--rest_api_port=8501" in args
    # The base path comes from the env var named in the args (Kubernetes expands $(VAR)).
    assert "--model_base_path=$(MODEL_BASE_PATH)" in args
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MODEL_BASE_PATH"].endswith(f"/serving/{configs.MODEL_NAME}")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == f"/v1/models/{configs.MODEL_NAME}" and probe["port"] == "http"
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    service_ports = {p["port"] for p in docs["Service"]["spec"]["ports"]}
    assert service_ports == {8500, 8501}


def test_kserve_alternative():
    docs = _documents("kserve-inferenceservice.yaml")
    model = docs["InferenceService"]["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "tensorflow"
    assert model["storageUri"].endswith(f"/serving/{configs.MODEL_NAME}")
    assert {"cpu", "memory"} <= model["resources"]["limits"].keys()


def test_vllm_judge_serves_what_the_llm_judge_asks_for():
    from components.teacher_labeling import llm_judge

    docs = _documents("vllm-judge.yaml")
    assert set(docs) == {"Deployment", "Service"}
    pod = docs["Deployment"]["spec"]["template"]
    assert docs["Service"]["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["image"].startswith("vllm/vllm-openai:")
    args = dict(arg.lstrip("-").split("=", 1) for arg in container["args"])
    # vLLM must return at least as many logprobs as the judge asks for, by default.
    assert int(args["max-logprobs"]) >= llm_judge.Settings(base_url="u", model="m").top_logprobs
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in container["env"]  # weights from the volume, never the hub
    assert docs["Service"]["spec"]["ports"][0]["port"] == int(args["port"]) == 8000


def _custom_ops(saved_model_dir):
    """The op types of a SavedModel's graph and functions that core TensorFlow does not have (tf.raw_ops lists
    core TensorFlow's ops only; ops a library loads, as tensorflow_text does, are not added to it)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for graph in saved_model.meta_graphs:
        ops |= {node.op for node in graph.graph_def.node}
        ops |= {node.op for function in graph.graph_def.library.function for node in function.node_def}
    return {op for op in ops if not hasattr(tf.raw_ops, op)}


def test_the_stock_tf_serving_image_links_every_op_our_encoders_use():
    from kubeflow import config
    from models.encoder import EXPORTERS, export_dir

    (container,) = _documents("tf-serving.yaml")["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == config.TF_SERVING_IMAGE
    exported = [name for name in EXPORTERS if os.path.isfile(os.path.join(export_dir(name), "saved_model.pb"))]
    assert exported  # make setup exports all three
    for name in exported:
        ops = _custom_ops(export_dir(name))
        assert ops and ops <= config.TF_SERVING_TEXT_OPS, (name, ops)  # the tokeniser's ops, all linked there
