"""BM25 over product titles, with document frequencies and lengths from the whole catalogue."""
import math
import re
from collections import Counter
from typing import Iterable, List

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> List[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    def __init__(self, titles: Iterable[str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.document_frequency: Counter = Counter()
        lengths = []
        for title in titles:
            words = tokens(title)
            lengths.append(len(words))
            self.document_frequency.update(set(words))
        self.documents = len(lengths)
        self.average_length = sum(lengths) / max(len(lengths), 1)

    def idf(self, word: str) -> float:
        df = self.document_frequency.get(word, 0)
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))

    def score(self, query: str, title: str) -> float:
        counts = Counter(tokens(title))
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.average_length)
        return sum(self.idf(w) * counts[w] * (self.k1 + 1) / (counts[w] + norm)
                   for w in set(tokens(query)) if counts[w])
