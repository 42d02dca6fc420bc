"""Helpers shared by the sample-augmentation components: LLM backends and the report artifact."""
