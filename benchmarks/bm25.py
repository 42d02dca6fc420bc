"""BM25 over product titles, with document frequencies and lengths from the whole catalogue.

Tokens: after NFKC (full-width "ＴＰＥ" is "TPE") and lower-casing, Latin/digit words as `\\w+` finds them,
and for Chinese, which has no spaces between words, character n-grams instead of a word segmenter: each
Han character (unigram) and each pair of adjacent Han characters (bigram). "男士运动鞋" gives 男 士 运 动 鞋
男士 士运 运动 动鞋, so the query "运动鞋" matches it through 运 动 鞋 运动 动鞋; a `\\w+` word would be the
whole run "男士运动鞋", which matches only a title holding exactly that run. Text without Han characters
gets the tokens `\\w+` gave before (NFKC leaves ASCII as it is; on the Home Depot benchmark every BM25 score
is unchanged).
"""
import math
import re
import unicodedata
from collections import Counter
from typing import Callable, Iterable, List

from models.text import HAN_CLASS

_HAN = HAN_CLASS  # Han characters (models/text.py)
# A run of Han characters, or a run of the other word characters (what `\w+` finds in text without Han).
_PIECE = re.compile(rf"[{_HAN}]+|[^\W{_HAN}]+")
_HAN_CHAR = re.compile(rf"[{_HAN}]")


def han_ngrams(run: str) -> List[str]:
    """Unigrams, then bigrams of adjacent characters, of a run of Han characters."""
    return list(run) + [run[i:i + 2] for i in range(len(run) - 1)]


def tokens(text: str) -> List[str]:
    """Lower-cased words and Han character n-grams of NFKC-normalised text."""
    result = []
    for piece in _PIECE.findall(unicodedata.normalize("NFKC", text).lower()):
        if _HAN_CHAR.match(piece):
            result.extend(han_ngrams(piece))
        else:
            result.append(piece)
    return result


class BM25:
    def __init__(self, titles: Iterable[str], k1: float = 1.2, b: float = 0.75,
                 tokenize: Callable[[str], List[str]] = tokens):
        """tokenize: `tokens` unless another tokeniser is being compared with it."""
        self.k1, self.b = k1, b
        self.tokenize = tokenize
        self.document_frequency: Counter = Counter()
        lengths = []
        for title in titles:
            words = tokenize(title)
            lengths.append(len(words))
            self.document_frequency.update(set(words))
        self.documents = len(lengths)
        self.average_length = sum(lengths) / max(len(lengths), 1)

    def idf(self, word: str) -> float:
        df = self.document_frequency.get(word, 0)
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))

    def score(self, query: str, title: str) -> float:
        counts = Counter(self.tokenize(title))
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.average_length)
        return sum(self.idf(w) * counts[w] * (self.k1 + 1) / (counts[w] + norm)
                   for w in set(self.tokenize(query)) if counts[w])


def main(argv=None) -> int:
    """BM25 on the PROTOCOL dev split of the Home Depot folder (or --data DIR): the figures of
    models/ranking_metrics.py."""
    import argparse

    from benchmarks import homedepot
    from models import ranking_metrics as metrics
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bm25", description=main.__doc__)
    parser.add_argument("--data", default=str(homedepot.DEFAULT_DIR), help="the Home Depot folder of PROTOCOL.md")
    args = parser.parse_args(argv)
    data = homedepot.load(args.data)
    bm25 = BM25(data.catalog.values())
    queries = {}
    for pair in data.dev:
        queries.setdefault(pair.query_id, []).append(
            metrics.Judged(pair.product_id, pair.gain, bm25.score(pair.query, pair.product_title)))
    for name, value in metrics.evaluate(queries).items():
        print(f"{name:>20}  {value:.4f}" if isinstance(value, float) else f"{name:>20}  {value}")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
