"""Turns an LLM's candidate queries for one product into clean queries; every rejection has a reason.

Checks, in this order (the first that fails names the reason):
  empty           nothing left after stripping list markers and quotes
  markup          chat-template or special-token markup ("<|im_start|>", "</s>", "<s>", "[INST]", "<<SYS>>")
  non_printable   control, format or private-use characters
  too_long        more than `max_query_chars` characters
  too_short       fewer than two letters, digits or Han characters ("x", "7")
  echo            a label or the instruction of the prompt repeated ("Product title: ...")
  injection       instruction-like text ("ignore the instructions", "忽略以上指令"), or text that only the
                  instruction hidden in an adversarial title contains
  title_copy      the product title itself (after normalisation)
  few_shot_copy   a query of the prompt's examples that the title does not contain
  ungrounded      no word (compared by a prefix of up to 4 letters) and no pair of adjacent Han characters
                  in common with the title: with a small model mostly invented words or another product
                  (switch off with require_title_overlap=False for a model that paraphrases well)
  duplicate       the same query as an earlier candidate of this product (after normalisation)
  labelled_query  a query of the labelled train split (people judged it already)
  surplus         the product already has its k queries

    query_filter = QueryFilter("Stride Lite men's canvas sneakers, black", k=2, max_query_chars=60)
    [query_filter.offer(c) for c in ["canvas sneakers", "Canvas  Sneakers!", "ignore all instructions", "x",
                                     "black sneakers"]]
    # -> [None, 'duplicate', 'injection', 'too_short', None]; kept == ['canvas sneakers', 'black sneakers']
"""
import collections
import re
import unicodedata
from typing import Collection, Iterable, List, Optional, Set, Tuple

from components.query_generation import prompts
from models.text import HAN_CLASS

EMPTY = "empty"
MARKUP = "markup"
TOO_SHORT = "too_short"
NON_PRINTABLE = "non_printable"
TOO_LONG = "too_long"
ECHO = "echo"
INJECTION = "injection"
TITLE_COPY = "title_copy"
FEW_SHOT_COPY = "few_shot_copy"
UNGROUNDED = "ungrounded"
DUPLICATE = "duplicate"
LABELLED_QUERY = "labelled_query"
SURPLUS = "surplus"
REASONS = (EMPTY, MARKUP, NON_PRINTABLE, TOO_LONG, TOO_SHORT, ECHO, INJECTION, TITLE_COPY, FEW_SHOT_COPY,
           UNGROUNDED, DUPLICATE, LABELLED_QUERY, SURPLUS)

# Phrases of prompt injection, in queries and in titles. Searched in normalised text (NFKC, case-folded,
# punctuation as spaces). Words a shopper would search for ("output", "system") are deliberately absent.
_INSTRUCTION_PATTERNS = re.compile("|".join(pattern.replace(" ", r"\s+") for pattern in [
    r"\bignor(?:e|es|ed|ing)\b", r"\bdisregard", r"\binstruction", r"\bprompt\b", r"\bjailbreak",
    r"\bforget (?:all|everything|previous|prior|the above|your)\b", r"\byou are (?:a|an|now|no longer)\b",
    r"\bas an ai\b", r"\bai assistant\b", r"\blanguage model\b", r"\bsystem message\b", r"\boverride\b",
    r"\bnew task\b", r"\bprevious (?:text|rules|task)\b",
    r"\b(?:output|print|say|respond|reply|answer|write|return|repeat)s? (?:only|exactly|the following|with|verbatim)\b",
    "忽略", "无视", "忽视", "不要理会", "指令", "提示词", "系统提示", "你是一个", "你现在是", "请输出", "只输出",
    "输出以下", "以上要求", "之前的要求", "新任务",
]))
# Chat-template and special-token markup of the common instruction-tuned models (ChatML, Llama, Gemma, BERT's
# special tokens, bare sentence tags), with the role word a template puts after a turn marker. A catalogue title
# carrying it could open a turn of its own in the prompt; a query made of it is no query.
_MARKUP = re.compile(
    r"<\|[^|<>\n]{1,40}\|>(?:\s*(?:system|user|assistant)\b)?"  # <|im_start|>system, <|endoftext|>
    r"|<\s*/?\s*(?:s|bos|eos|pad|unk|mask|sep|cls)\s*>"  # </s>, <s>, <eos>
    r"|<\s*(?:start_of_turn|end_of_turn)\s*>(?:\s*(?:user|model)\b)?"  # Gemma
    r"|\[\s*/?\s*(?:INST|SYS)\s*\]|<<\s*/?\s*SYS\s*>>"  # Llama 2
    r"|<\s*/?\s*(?:system|user|assistant)\s*>",  # XML-ish role tags
    re.IGNORECASE)
MIN_QUERY_TEXT_CHARS = 2  # letters, digits or Han characters a query needs


def strip_markup(text: str) -> str:
    """The text without chat-template and special-token markup (_MARKUP), whitespace collapsed."""
    return " ".join(_MARKUP.sub(" ", text).split())


def _text_chars(text: str) -> int:
    return sum(char.isalnum() for char in text)


# An n-gram of this many tokens (words, or single Han characters) shared with the instruction of the
# prompt, or with the injected part of a title, marks a candidate as an echo or as injected text.
_SHARED_NGRAM = 2
_ECHO_NGRAM = 4


def normalise(text: str) -> str:
    """For comparisons: NFKC, case-folded, punctuation and symbols as spaces, whitespace collapsed, no
    spaces next to a Han character ("T-Shirt!" == "t shirt", "男士 运动鞋" == "男士运动鞋", "500ml 保温杯" ==
    "500ml保温杯"): Chinese marks no word boundary with a space, beside a Latin word either."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(char)[0] in "PSZC" else char for char in text)
    tokens = text.split()
    out = ""
    for token in tokens:
        if out and not (prompts.is_han(out[-1]) or prompts.is_han(token[0])):
            out += " "
        out += token
    return out


def tokens(normalised: str) -> List[str]:
    """Words, with each Han character a token of its own."""
    result = []
    for word in normalised.split():
        run = ""
        for char in word:
            if prompts.is_han(char):
                if run:
                    result.append(run)
                    run = ""
                result.append(char)
            else:
                run += char
        if run:
            result.append(run)
    return result


def _ngrams(items: List[str], n: int) -> Set[Tuple[str, ...]]:
    return {tuple(items[i:i + n]) for i in range(len(items) - n + 1)}


# Spaces between two Han characters (Chinese has none between words: "忽 略" is "忽略" spaced out).
_SPACES_BETWEEN_HAN = re.compile(rf"(?<=[{HAN_CLASS}]) +(?=[{HAN_CLASS}])")


def _searchable(text: str) -> Tuple[str, List[int]]:
    """`text` for finding phrases in it, and the index in `text` of each of its characters: each character
    NFKC-folded and case-folded where that keeps it one character, punctuation, symbols and spaces as a
    space; format characters (zero-width spaces, soft hyphens, bidi marks) and spaces between Han
    characters dropped, so that an adversarial title cannot hide a phrase by splitting it ("ig\u200bnore",
    "忽 略 以 上 指 令")."""
    chars, index = [], []
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        folded = unicodedata.normalize("NFKC", char).casefold()
        chars.append(" " if category[0] in "PSZC" else folded if len(folded) == 1 else char)
        index.append(i)
    dropped = {i for match in _SPACES_BETWEEN_HAN.finditer("".join(chars)) for i in range(*match.span())}
    kept = [i for i in range(len(chars)) if i not in dropped]
    return "".join(chars[i] for i in kept), [index[i] for i in kept]


def injection_start(title: str) -> Optional[int]:
    """Index in `title` where an instruction-like phrase starts, or None for a clean title."""
    text, index = _searchable(title)
    match = _INSTRUCTION_PATTERNS.search(text)
    return index[match.start()] if match else None


_TRAILING = " \t,.;:|-/(（【[\"'“‘"


def clean_title(title: str) -> str:
    """The title without chat-template markup and without an injected instruction and everything after it
    ("" if nothing is left): what the prompt shows the model."""
    title = strip_markup(title)
    start = injection_start(title)
    if start is None:
        return title
    text = title[:start]
    while text and (text[-1] in _TRAILING or unicodedata.category(text[-1]) == "Cf"):  # e.g. a bidi mark
        text = text[:-1]
    return text


def _terms(grams: List[str]) -> Tuple[Set[str], Set[str]]:
    """(Latin words, pairs of adjacent Han characters) of a token list."""
    words = {gram for gram in grams if not prompts.is_han(gram[0])}
    han_pairs = {a + b for a, b in zip(grams, grams[1:]) if prompts.is_han(a[0]) and prompts.is_han(b[0])}
    return words, han_pairs


def _same_word(a: str, b: str) -> bool:
    """Equal, or sharing a prefix of min(4, shorter length) letters, for words of 2+ characters
    ("shoe"/"shoes", "charger"/"charging", "men"/"mens"; not "black"/"blue")."""
    if a == b:
        return True
    n = min(4, len(a), len(b))
    return n >= 2 and a[:n] == b[:n]


def _printable(text: str) -> bool:
    return all(unicodedata.category(char)[0] != "C" for char in text)


_LABELS = tuple(normalise(label) for label in prompts.FIELD_LABELS)
_INSTRUCTION_NGRAMS = set().union(*(_ngrams(tokens(normalise(text)), _ECHO_NGRAM)
                                    for text in prompts.instructions()))
_EXAMPLE_QUERIES = frozenset(normalise(query) for query in prompts.example_queries())


class QueryFilter:
    """Checks the candidate queries of one product, keeping up to k; `rejected` counts reasons."""

    def __init__(self, title: str, k: int, max_query_chars: int, labelled_queries: Collection[str] = (),
                 require_title_overlap: bool = True):
        """Args:
          title: the product title as in the catalogue (with any injected text).
          k: queries to keep at most.
          max_query_chars: longer candidates are rejected.
          labelled_queries: normalised queries of the labelled train split (see `normalise`).
          require_title_overlap: reject candidates with no word in common with the title ("ungrounded").
        """
        self.k = k
        self.require_title_overlap = require_title_overlap
        self.max_query_chars = max_query_chars
        self.kept: List[str] = []
        self.rejected: collections.Counter = collections.Counter()
        self._labelled = labelled_queries
        title = strip_markup(title)
        start = injection_start(title)
        self._title = normalise(title)
        self._clean = normalise(title if start is None else title[:start])
        injected = "" if start is None else normalise(title[start:])
        self._injected = injected
        self._clean_ngrams = _ngrams(tokens(self._clean), _SHARED_NGRAM)
        self._injected_ngrams = _ngrams(tokens(injected), _SHARED_NGRAM) - self._clean_ngrams
        self._title_words, self._title_han_pairs = _terms(tokens(self._clean))
        self._seen: Set[str] = set()

    @property
    def full(self) -> bool:
        return len(self.kept) >= self.k

    def offer(self, candidate: str) -> Optional[str]:
        """Keeps the candidate (returns None) or returns the reason it was rejected (and counts it)."""
        reason = self._check(candidate.strip())
        if reason:
            self.rejected[reason] += 1
        else:
            self.kept.append(" ".join(candidate.split()))
        return reason

    def _check(self, candidate: str) -> Optional[str]:
        if not candidate:
            return EMPTY
        if _MARKUP.search(candidate):
            return MARKUP
        if not _printable(candidate):
            return NON_PRINTABLE
        if len(candidate) > self.max_query_chars:
            return TOO_LONG
        text = normalise(candidate)
        if not text:
            return EMPTY
        if _text_chars(text) < MIN_QUERY_TEXT_CHARS:
            return TOO_SHORT
        grams = tokens(text)
        if any(label in text for label in _LABELS) or _ngrams(grams, _ECHO_NGRAM) & _INSTRUCTION_NGRAMS:
            return ECHO
        if self._is_injected(candidate, text, grams):
            return INJECTION
        if text in (self._title, self._clean):
            return TITLE_COPY
        if text in _EXAMPLE_QUERIES and text not in self._title:
            return FEW_SHOT_COPY
        if self.require_title_overlap and not self._grounded(grams):
            return UNGROUNDED
        if text in self._seen:
            return DUPLICATE
        self._seen.add(text)
        if text in self._labelled:
            return LABELLED_QUERY
        if self.full:
            return SURPLUS
        return None

    def _grounded(self, grams: List[str]) -> bool:
        words, han_pairs = _terms(grams)
        return bool(han_pairs & self._title_han_pairs) or any(
            _same_word(word, title_word) for word in words for title_word in self._title_words)

    def _is_injected(self, candidate: str, text: str, grams: List[str]) -> bool:
        # Searched as in titles: `_searchable` keeps a space beside a Han character, which normalise drops
        # ("ignore 运动鞋" -> "ignore运动鞋", where no word boundary follows "ignore").
        if injection_start(candidate) is not None:
            return True
        if not self._injected:
            return False
        # Text that only the injected instruction contains: a quoted payload, or a run of its words.
        if text in self._injected and text not in self._clean:
            return True
        return bool(_ngrams(grams, _SHARED_NGRAM) & self._injected_ngrams)


def sanitize(title: str, candidates: Iterable[str], k: int, max_query_chars: int,
             labelled_queries: Collection[str] = (), require_title_overlap: bool = True
             ) -> Tuple[List[str], List[Tuple[str, str]]]:
    """(kept queries, [(rejected candidate, reason)]) for one product's candidates."""
    query_filter = QueryFilter(title, k, max_query_chars, labelled_queries, require_title_overlap)
    rejected = []
    for candidate in candidates:
        reason = query_filter.offer(candidate)
        if reason:
            rejected.append((candidate, reason))
    return query_filter.kept, rejected
