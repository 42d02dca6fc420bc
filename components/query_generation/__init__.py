"""QueryGeneration: shopper queries for catalogue products, written by an LLM (sample augmentation)."""
