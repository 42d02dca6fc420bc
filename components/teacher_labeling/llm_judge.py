"""The LLM-judge view of the teacher: a graded relevance read from an LLM's next-token probabilities.

An OpenAI-compatible completion endpoint (llm_backends.OpenAICompletionBackend: vLLM on a GPU node in
production, llama.cpp's server here) reads a few-shot prompt that ends in "Grade: " and returns the
log-probabilities of its likeliest next tokens. The view's value for a pair is the expected grade under the
model's distribution restricted to the grade tokens "0".."3" (the pipeline's scale, models/features.py), as a
normalised gain in [0, 1]: a soft reading that orders pairs even when the greedy answer ties them.
Calibration is the views' own (views.py): like each zero-shot cosine, the judge's value gets a slope fitted
on the labelled train rows, and its share of the label comes with the others' from the labelled eval rows; a
judge that does not help gets a small weight, and the report gives its NDCG@10 on the eval split.

Off unless configured (configs.Augmentation.llm_judge): every candidate costs one request (~60 prompt tokens
and one generated token), so a GPU endpoint is the place for tens of thousands of pairs.
A pair whose top tokens hold no grade gets the middle of the scale and is counted (`unanswered`).
"""
import concurrent.futures
import dataclasses
import math
import threading
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
from absl import logging

from components.augmentation import llm_backends
from components.query_generation.prompts import as_data
from components.query_generation.sanitize import strip_markup
from components.teacher_labeling import views
from models import features

VIEW = views.LLM_JUDGE  # the view's name among the teacher's views and its handle in views.ViewsFit.encoders
GRADES = {str(grade): grade for grade in range(int(features.RELEVANCE_MIN), int(features.RELEVANCE_MAX) + 1)}
UNANSWERED_GAIN = 0.5  # the middle of the scale, for a pair whose top tokens hold no grade

# Our own examples, one per grade; the pair to judge last. Titles and queries enter as JSON strings with chat
# markup stripped (as the query generation's prompts do), so a title cannot speak to the model.
PROMPT = """Rate how well a product matches a shopper's search query.
3 = exact match, 2 = a close substitute, 1 = related or an accessory, 0 = irrelevant.

Query: "cordless drill"
Product: "20V cordless drill driver kit with two batteries"
Grade: 3

Query: "led bulb"
Product: "halogen light bulb, 60 W, warm white"
Grade: 2

Query: "cordless drill"
Product: "drill bit set, 15 pieces"
Grade: 1

Query: "garden hose"
Product: "stainless steel kitchen sink"
Grade: 0

Query: {query}
Product: {title}
Grade: """  # the space too: tokenisers that split digits (Llama 3, Qwen 2, SmolLM2) would spend the next token on it


@dataclasses.dataclass(frozen=True)
class Settings:
    """The judge's endpoint (llm_backends.OpenAICompletionBackend's arguments) and how it is asked."""
    base_url: str
    model: str
    top_logprobs: int = 10  # next tokens the server returns; the grades must be among them to count
    concurrency: int = 4  # requests in flight per worker (a GPU server batches them)
    timeout_s: float = 60.0
    max_retries: int = 3
    api_key_env: Optional[str] = None

    def __post_init__(self):
        if self.top_logprobs < 1 or self.concurrency < 1:
            raise ValueError("llm_judge: top_logprobs and concurrency must be at least 1")

    @classmethod
    def from_config(cls, config: Mapping) -> "Settings":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"llm_judge: unknown settings {unknown}; known: {sorted(known)}")
        try:
            return cls(**config)
        except TypeError as error:  # a missing base_url or model
            raise ValueError(f"llm_judge: {error}") from None


def prompt(query: str, title: str) -> str:
    return PROMPT.format(query=as_data(strip_markup(query)), title=as_data(strip_markup(title)))


def expected_gain(top_logprobs: Mapping[str, float]) -> Optional[float]:
    """The expected grade over the grade tokens among top_logprobs (renormalised over them), as a normalised
    gain; None when none of them is a grade. " 2" and "2" are the same grade (tokenisers differ)."""
    mass: Dict[int, float] = {}
    for token, logprob in top_logprobs.items():
        grade = GRADES.get(token.strip())
        if grade is not None and math.isfinite(logprob):
            mass[grade] = mass.get(grade, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    grade = sum(g * p for g, p in mass.items()) / total
    return float(features.normalised_gain(grade))


class LLMJudge:
    """pair_scores(rows) -> the judge's gain per (query, product_title) row; each distinct pair asked once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._local = threading.local()  # one HTTP session per thread
        self.asked = self.unanswered = 0

    def _backend(self) -> llm_backends.OpenAICompletionBackend:
        backend = getattr(self._local, "backend", None)
        if backend is None:
            s = self.settings
            backend = self._local.backend = llm_backends.OpenAICompletionBackend(
                s.base_url, s.model, timeout_s=s.timeout_s, max_retries=s.max_retries, api_key_env=s.api_key_env)
        return backend

    def gain(self, query: str, title: str) -> Optional[float]:
        return expected_gain(self._backend().first_token_logprobs(prompt(query, title), self.settings.top_logprobs))

    def pair_scores(self, rows: Sequence[Mapping]) -> np.ndarray:
        pairs = sorted({(r[features.QUERY], r[features.PRODUCT_TITLE]) for r in rows})
        with concurrent.futures.ThreadPoolExecutor(self.settings.concurrency) as pool:
            gains = dict(zip(pairs, pool.map(lambda pair: self.gain(*pair), pairs)))
        unanswered = sum(1 for value in gains.values() if value is None)
        self.asked, self.unanswered = self.asked + len(pairs), self.unanswered + unanswered
        if unanswered:
            logging.warning("llm_judge: no grade among the top %d tokens for %d of %d pairs (scored %.1f)",
                            self.settings.top_logprobs, unanswered, len(pairs), UNANSWERED_GAIN)
        return np.array([UNANSWERED_GAIN if gains[key] is None else gains[key]
                         for key in ((r[features.QUERY], r[features.PRODUCT_TITLE]) for r in rows)])

    def __repr__(self) -> str:
        return f"LLMJudge({self.settings.base_url}, model={self.settings.model})"
