"""What a Han (Chinese) character is, in one place: generation's prompts and sanitiser, BM25, the bag-of-words
tokeniser and the sample maker read it here. The exported encoders' tokenisers keep HF's own wider list
(models/encoder/tokenizer.py), which parity with sentence-transformers needs."""

# CJK Unified Ideographs, extension A and the compatibility ideographs: what shop titles and queries use.
HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
# The same as the inside of a regex character class ([...]), for Python's re and TensorFlow's RE2 alike.
HAN_CLASS = "".join(f"{chr(low)}-{chr(high)}" for low, high in HAN_RANGES)


def is_han(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in HAN_RANGES)
