"""Custom TFX components of the pipeline, one package each (component.py + executor.py)."""
