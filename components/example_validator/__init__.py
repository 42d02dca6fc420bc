"""TFX's ExampleValidator, with its SQL drift checks stored so that Kubeflow V2 compiles it (component.py)."""
