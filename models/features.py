"""The one place for feature names and the relevance scale."""
import dataclasses
import math

# Raw columns of the search log (CSV header and schemas/schema.pbtxt use these names).
QUERY_ID = "query_id"
QUERY = "query"
PRODUCT_ID = "product_id"
PRODUCT_TITLE = "product_title"
RELEVANCE = "relevance"
RAW_COLUMNS = (QUERY_ID, QUERY, PRODUCT_ID, PRODUCT_TITLE, RELEVANCE)
# Columns of the unlabelled search traffic (impressions: a query and a product shown for it, no grade).
IMPRESSION_COLUMNS = (QUERY_ID, QUERY, PRODUCT_ID, PRODUCT_TITLE)
# Columns of the catalogue (every product augmentation may retrieve or write queries for).
CATALOG_COLUMNS = (PRODUCT_ID, PRODUCT_TITLE)

# Graded relevance of the bundled sample: 0 irrelevant, 1 related/complement, 2 substitute, 3 exact.
# Gain for NDCG is the grade itself (linear); the model's regression target is the gain scaled to [0, 1].
RELEVANCE_MIN = 0.0
RELEVANCE_MAX = 3.0

# Transformed features (outputs of models.preprocessing.preprocessing_fn).
QUERY_TOKEN_IDS = "query_token_ids"
TITLE_TOKEN_IDS = "title_token_ids"
TOKEN_OVERLAP = "token_overlap"
LABEL = "label"  # normalised gain in [0, 1]

# Fixed token lengths after Transform (longer texts are truncated, shorter padded with 0).
MAX_QUERY_TOKENS = 12
MAX_TITLE_TOKENS = 32
VOCAB_NAME = "tokens"

# Name of the scoring output in every serving signature.
SCORE = "score"


def normalised_gain(relevance):
    """Maps a grade on the relevance scale to [0, 1] (works on floats and tensors)."""
    return (relevance - RELEVANCE_MIN) / (RELEVANCE_MAX - RELEVANCE_MIN)


@dataclasses.dataclass(frozen=True)
class GradeScale:
    """The grades of a user's judgements: from `lowest` (irrelevant) to `highest` (the best match), e.g. 1-3
    for means of raters' grades, 0-1 for clicks. SearchLogExampleGen checks each grade against it and maps it
    linearly onto the pipeline's scale (RELEVANCE_MIN..RELEVANCE_MAX), so that everything downstream (schema,
    drift checks, labels, NDCG gains, blessing thresholds) reads one scale whatever the input's."""
    lowest: float
    highest: float

    def __post_init__(self):
        if not (math.isfinite(self.lowest) and math.isfinite(self.highest) and self.lowest < self.highest):
            raise ValueError(f"a grade scale needs finite lowest < highest, got {self.lowest:g}:{self.highest:g}")

    @classmethod
    def parse(cls, text: str) -> "GradeScale":
        """'LOWEST:HIGHEST', e.g. '1:3' or '0:1'."""
        parts = str(text).split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            lowest, highest = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"a grade scale is LOWEST:HIGHEST, e.g. 1:3 or 0:1; got {text!r}") from None
        return cls(lowest, highest)

    def __str__(self) -> str:
        return f"{self.lowest:g}:{self.highest:g}"

    def contains(self, grade: float) -> bool:
        return math.isfinite(grade) and self.lowest <= grade <= self.highest

    def to_pipeline(self, grade: float) -> float:
        """The grade on the pipeline's scale: lowest -> RELEVANCE_MIN, highest -> RELEVANCE_MAX, linearly."""
        share = (grade - self.lowest) / (self.highest - self.lowest)
        return RELEVANCE_MIN + share * (RELEVANCE_MAX - RELEVANCE_MIN)


PIPELINE_SCALE = GradeScale(RELEVANCE_MIN, RELEVANCE_MAX)  # judgements already graded 0..3: kept as they are


# Augmentation (components/): every training example says where it came from and how much it counts.
ORIGIN = "origin"  # one of ORIGINS
WEIGHT = "sample_weight"  # float, 1.0 for labelled rows
ORIGIN_LABELLED, ORIGIN_GENERATED, ORIGIN_RETRIEVED = "labelled", "generated", "retrieved"
ORIGIN_TRAFFIC = "traffic"  # a logged (query, product shown) pair, graded by the teacher
ORIGINS = (ORIGIN_LABELLED, ORIGIN_GENERATED, ORIGIN_RETRIEVED, ORIGIN_TRAFFIC)
