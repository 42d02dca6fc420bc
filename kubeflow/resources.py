"""The Trainer's container resources for Kubeflow V2: a KFP ResourceSpec attached as the node's platform config.

TFX 1.16's Kubeflow V2 step builder copies `node.platform_config` (it must be a
PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec) into the executor's `container.resources`.
Both field generations are filled, as kfp 2.13's own compiler does: the numeric ones (cpu in cores, memory in
GB, accelerator type/count; what Vertex AI and older KFP backends read) and the string `resource_*` ones
(what newer KFP backends read first).
"""
import re
from typing import Optional

from kfp.pipeline_spec import pipeline_spec_pb2

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(|K|Ki|M|Mi|G|Gi|T|Ti)$")
_MEMORY_BYTES = {"": 1, "K": 10**3, "Ki": 2**10, "M": 10**6, "Mi": 2**20, "G": 10**9, "Gi": 2**30,
                 "T": 10**12, "Ti": 2**40}
# Vertex AI names (NVIDIA_TESLA_T4, NVIDIA_L4) or Kubernetes resource names (nvidia.com/gpu).
_ACCELERATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


def cpu_cores(text: str) -> float:
    """'2', '0.5' or '500m' (Kubernetes quantities) -> cores."""
    match = _CPU.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"CPU {text!r} is not a positive Kubernetes quantity such as 2, 0.5 or 500m")
    value = float(match.group(1))
    return value / 1000 if match.group(2) else value


def memory_gb(text: str) -> float:
    """'8G', '512Mi', '16Gi' (Kubernetes quantities) -> GB (10**9 bytes), the unit of ResourceSpec."""
    match = _MEMORY.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"memory {text!r} is not a positive Kubernetes quantity such as 8G, 16Gi or 512Mi")
    return float(match.group(1)) * _MEMORY_BYTES[match.group(2)] / 10**9


def resource_spec(cpu: str, memory: str, gpu_type: Optional[str] = None,
                  gpu_count: Optional[int] = None) -> ResourceSpec:
    """CPU and memory requested and limited to the same values, plus an optional accelerator.

    gpu_count defaults to 1 when gpu_type is given; a count without a type is an error.
    """
    spec = ResourceSpec(cpu_request=cpu_cores(cpu), cpu_limit=cpu_cores(cpu),
                        memory_request=memory_gb(memory), memory_limit=memory_gb(memory),
                        resource_cpu_request=cpu, resource_cpu_limit=cpu,
                        resource_memory_request=memory, resource_memory_limit=memory)
    if gpu_type is None:
        if gpu_count is not None:
            raise ValueError("--gpu-count needs --gpu-type (e.g. NVIDIA_TESLA_T4 on Vertex AI, "
                             "nvidia.com/gpu on Kubeflow)")
        return spec
    if not _ACCELERATOR.match(gpu_type):
        raise ValueError(f"GPU type {gpu_type!r} is not an accelerator name such as NVIDIA_TESLA_T4 "
                         "or nvidia.com/gpu")
    count = 1 if gpu_count is None else gpu_count
    if count < 1:
        raise ValueError(f"GPU count must be at least 1, got {count}")
    spec.accelerator.CopyFrom(ResourceSpec.AcceleratorConfig(
        type=gpu_type, count=count, resource_type=gpu_type, resource_count=str(count)))
    return spec
