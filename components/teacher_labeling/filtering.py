"""Which teacher-labelled candidates become training samples, and why the others do not.

Pure Python over rows that already carry the teacher's score (normalised gain in [0, 1]) and their
similarity to the nearest eval query. The teacher's score combines its views (views.py): the fine-tuned
cross-encoder's gain and the pretrained encoders' zero-shot cosines, fitted on the labelled rows.
Rules, in order (the first that fails names the rejection):
  invalid_text        empty query or title, or a query longer than max_query_chars;
  eval_query          the query equals an eval query after normalisation;
  eval_near_duplicate the query's embedding is at least eval_similarity close to an eval query's;
  round_trip          a generated query whose source product the teacher does not rank in its top
                      round_trip_top_k among the query's candidates, or retrieval did not rank in its top
                      retrieval_top_k (Promptagator / InPars consistency); all rows of that query go;
  low_confidence      |2 * score - 1| < min_confidence (the teacher is unsure between relevant and not);
  duplicate_of_labelled / duplicate   (normalised query, product) already labelled / already kept;
  cap_per_query / cap_per_product     more than max_per_query / max_per_product kept (the most confident
                      candidates go first).
Traffic rows (origin "traffic": a logged query and a product shown for it) skip low_confidence and the caps:
they are the real distribution of pairs the ranker must order, and the pairs the teacher is unsure of are the
hard ones a student learns its ordering from (a confidence filter over a weak teacher keeps the easy ones).
Kept rows get relevance = the teacher's score on the relevance scale (a soft label) and a sample weight
by origin. in = kept + rejected, always.
"""
import collections
import dataclasses
import math
from typing import Callable, Dict, Iterable, List, Mapping, Sequence, Tuple

from components.retrieval import candidates as retrieval
from models import features
from models.zero_shot import SCORE_MEANINGS, check_weight

TEACHER_SCORE = "teacher_score"  # normalised gain in [0, 1], added to each candidate before filtering
# TEACHER_SCORE's parts: the cross-encoder's gain, the pipeline encoder's cosine and all zero-shot views' gain.
CROSS_ENCODER_GAIN, ZERO_SHOT_COSINE, ZERO_SHOT_GAIN = "cross_encoder_gain", "zero_shot_cosine", "zero_shot_gain"
EVAL_SIMILARITY = "eval_similarity"  # max cosine of the candidate's query to any eval query
OUTPUT_COLUMNS = features.RAW_COLUMNS + (features.ORIGIN, features.WEIGHT)


@dataclasses.dataclass(frozen=True)
class Settings:
    min_confidence: float = 0.2
    round_trip_top_k: int = 1
    retrieval_top_k: int = 20  # 0: no retrieval-rank check
    max_per_query: int = 10
    max_per_product: int = 10
    eval_similarity: float = 0.95
    max_query_chars: int = 100
    weight_generated: float = 0.5
    weight_retrieved: float = 0.5
    weight_traffic: float = 1.0  # teacher-graded impressions: real queries and the products shown for them
    # Share of the zero-shot views in the teacher's label (views.py): fitted on the labelled eval rows when
    # fit_zero_shot_weight is 1 and they can decide, else this weight; 0 and no fit: the cross-encoder alone.
    zero_shot_weight: float = 0.5
    fit_zero_shot_weight: int = 1
    # What the teacher's score means (models.cross_encoder.score_meaning of its hparams): "logit" (the
    # normalised gain is sigmoid(score)) or "gain" (the score regresses the gain). Listwise scores only
    # order a query's products: they cannot be soft labels.
    teacher_score: str = "logit"

    def __post_init__(self):
        check_weight(self.zero_shot_weight)
        if self.fit_zero_shot_weight not in (0, 1):
            raise ValueError(f"fit_zero_shot_weight must be 0 or 1, not {self.fit_zero_shot_weight!r}")
        if self.teacher_score not in SCORE_MEANINGS:
            raise ValueError(f"teacher_score must be one of {SCORE_MEANINGS}, not {self.teacher_score!r} "
                             "(a listwise teacher's scores are not calibrated: train the teacher pointwise)")


@dataclasses.dataclass
class Outcome:
    kept: List[dict]
    rejected: List[Tuple[str, dict]]  # (reason, candidate row)

    def counts(self) -> Dict[str, int]:
        return dict(collections.Counter(reason for reason, _ in self.rejected))


def gain_of(score: float, meaning: str) -> float:
    """The teacher's raw score as a normalised gain in [0, 1] (see Settings.teacher_score)."""
    if meaning == "logit":
        return 1.0 / (1.0 + math.exp(-min(max(score, -60.0), 60.0)))
    if meaning == "gain":
        return min(max(score, 0.0), 1.0)
    raise ValueError(f"unknown teacher score meaning {meaning!r}; known: {SCORE_MEANINGS}")


def confidence(score: float) -> float:
    """0 at score 0.5 (can't tell), 1 at 0 or 1."""
    return abs(2.0 * min(max(score, 0.0), 1.0) - 1.0)


def soft_relevance(score: float) -> float:
    """The teacher's normalised gain back on the relevance scale."""
    score = min(max(score, 0.0), 1.0)
    return features.RELEVANCE_MIN + score * (features.RELEVANCE_MAX - features.RELEVANCE_MIN)


def _round_trip_failures(rows: Sequence[dict], settings: Settings) -> set:
    """Query ids of generated queries that fail round-trip consistency."""
    groups = collections.defaultdict(list)
    for row in rows:
        if row[features.ORIGIN] == features.ORIGIN_GENERATED:
            groups[row[features.QUERY_ID]].append(row)
    failed = set()
    for query_id, group in groups.items():
        sources = [r for r in group if r[retrieval.METHOD] == retrieval.GENERATED_SOURCE]
        if len(sources) != 1:
            failed.add(query_id)
            continue
        source = sources[0]
        teacher_rank = 1 + sum(r[TEACHER_SCORE] > source[TEACHER_SCORE] for r in group if r is not source)
        retrieval_ok = settings.retrieval_top_k <= 0 or 0 < source[retrieval.SOURCE_RANK] <= settings.retrieval_top_k
        if teacher_rank > settings.round_trip_top_k or not retrieval_ok:
            failed.add(query_id)
    return failed


def select(candidates: Iterable[dict], labelled_train: Iterable[Mapping], eval_queries: Iterable[str],
           settings: Settings, normalise: Callable[[str], str]) -> Outcome:
    """Applies the rules above; deterministic for the same input whatever its order."""
    rows = sorted(candidates, key=lambda r: (r[features.QUERY_ID], r[features.PRODUCT_ID]))
    eval_normalised = {normalise(q) for q in eval_queries}
    labelled_keys = {(normalise(r[features.QUERY]), r[features.PRODUCT_ID]) for r in labelled_train}
    outcome = Outcome(kept=[], rejected=[])

    survivors = []
    for row in rows:
        query, title = row[features.QUERY].strip(), row[features.PRODUCT_TITLE].strip()
        if not query or not title or len(query) > settings.max_query_chars:
            outcome.rejected.append(("invalid_text", row))
        elif normalise(query) in eval_normalised:
            outcome.rejected.append(("eval_query", row))
        elif row[EVAL_SIMILARITY] >= settings.eval_similarity:
            outcome.rejected.append(("eval_near_duplicate", row))
        else:
            survivors.append(row)

    failed = _round_trip_failures(survivors, settings)
    confident = []
    for row in survivors:
        if row[features.QUERY_ID] in failed:
            outcome.rejected.append(("round_trip", row))
        elif (row[features.ORIGIN] != features.ORIGIN_TRAFFIC
              and confidence(row[TEACHER_SCORE]) < settings.min_confidence):
            outcome.rejected.append(("low_confidence", row))
        else:
            confident.append(row)

    # Most confident first, so duplicates and caps keep the best candidates; ids break ties.
    confident.sort(key=lambda r: (-confidence(r[TEACHER_SCORE]), r[features.QUERY_ID], r[features.PRODUCT_ID]))
    kept_keys = set()
    per_query, per_product = collections.Counter(), collections.Counter()
    for row in confident:
        key = (normalise(row[features.QUERY]), row[features.PRODUCT_ID])
        capped = row[features.ORIGIN] != features.ORIGIN_TRAFFIC
        if key in labelled_keys:
            outcome.rejected.append(("duplicate_of_labelled", row))
        elif key in kept_keys:
            outcome.rejected.append(("duplicate", row))
        elif capped and per_query[key[0]] >= settings.max_per_query:
            outcome.rejected.append(("cap_per_query", row))
        elif capped and per_product[key[1]] >= settings.max_per_product:
            outcome.rejected.append(("cap_per_product", row))
        else:
            kept_keys.add(key)
            per_query[key[0]] += capped
            per_product[key[1]] += capped
            outcome.kept.append(training_row(row, settings))
    outcome.kept.sort(key=lambda r: (r[features.QUERY_ID], r[features.PRODUCT_ID]))
    if len(outcome.kept) + len(outcome.rejected) != len(rows):  # not an assert: python -O strips those
        raise RuntimeError(f"accounting: {len(rows)} candidates in, {len(outcome.kept)} kept + "
                           f"{len(outcome.rejected)} rejected out (a bug)")
    return outcome


def training_row(candidate: Mapping, settings: Settings) -> dict:
    weight = {features.ORIGIN_GENERATED: settings.weight_generated,
              features.ORIGIN_TRAFFIC: settings.weight_traffic}.get(candidate[features.ORIGIN],
                                                                    settings.weight_retrieved)
    return {features.QUERY_ID: candidate[features.QUERY_ID], features.QUERY: candidate[features.QUERY],
            features.PRODUCT_ID: candidate[features.PRODUCT_ID],
            features.PRODUCT_TITLE: candidate[features.PRODUCT_TITLE],
            features.RELEVANCE: soft_relevance(candidate[TEACHER_SCORE]),
            features.ORIGIN: candidate[features.ORIGIN], features.WEIGHT: float(weight)}


def labelled_row(row: Mapping) -> dict:
    """A labelled example in the training schema: origin labelled, weight 1."""
    return {**{name: row[name] for name in features.RAW_COLUMNS},
            features.ORIGIN: features.ORIGIN_LABELLED, features.WEIGHT: 1.0}
