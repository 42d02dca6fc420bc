"""Search-relevance pipeline with large-model sample augmentation (TFX 1.16)."""
import setuptools

setuptools.setup(
    name="search-augment",
    version="0.1.0",
    description="TFX pipeline: fine-tune a ranker on few labels, augment samples, retrain, bless, push.",
    python_requires=">=3.11,<3.12",
    packages=setuptools.find_packages(include=["pipeline*", "components*", "models*", "kubeflow*", "serving*", "benchmarks*"]),
    # Dependencies are pinned in requirements.lock and installed by scripts/setup_env.sh.
    install_requires=[],
)
