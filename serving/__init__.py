"""Local model server speaking TF Serving's REST API for one pushed model (`python -m serving --help`).

It depends only on the pushed SavedModel: nothing here imports the pipeline or the model code.
"""
