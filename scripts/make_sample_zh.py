#!/usr/bin/env python3
"""Generate the Chinese-only sample in data/sample_zh/ (deterministic, standard library only).

Same format, relevance scale and machinery as data/sample/ (scripts/make_sample_data.py: categories,
invented brands, title writer, grading rules, judging): only the query table, the seed and the catalogue's
size are this sample's own. Every query and title is Chinese (some name a fictional phone model or a
capacity in Latin letters); some queries ask for a feature ("防水", "降噪") that an exact title must name.

Usage: python3 scripts/make_sample_zh.py [--out DIR]   (rerunning gives byte-identical files)
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import make_sample_data as sample  # the script's own folder is on sys.path when it runs

SEED = 20261205
OUT_DIR = Path(__file__).resolve().parent.parent / "data" / "sample_zh"

# Queries as Chinese shoppers type them, with their parse: (text, categories, attributes[, features]).
# Attribute values are the keys of make_sample_data's COLOURS, MATERIALS, SIZES and GENDER_EN.
QUERIES = [
    # Head queries: a category and nothing else.
    ("T恤", "tshirt", {}),
    ("运动鞋", "running_shoes sneakers", {}),
    ("跑鞋", "running_shoes", {}),
    ("保温杯", "thermos", {}),
    ("水杯", "water_bottle thermos", {}),
    ("连衣裙", "dress", {}),
    ("卫衣", "hoodie", {}),
    ("牛仔裤", "jeans", {}),
    ("羽绒服", "down_jacket", {}),
    ("袜子", "socks", {}),
    ("登山鞋", "hiking_boots", {}),
    ("无线耳机", "earbuds", {}),
    ("手机壳", "phone_case", {}),
    ("充电器", "charger", {}),
    ("数据线", "charging_cable", {}),
    ("充电宝", "power_bank", {}),
    ("智能手表", "smart_watch", {}),
    ("蓝牙音箱", "speaker", {}),
    ("四件套", "bedding", {}),
    ("枕头", "pillow", {}),
    ("浴巾", "towel", {}),
    ("收纳箱", "storage_box", {}),
    ("台灯", "desk_lamp", {}),
    ("鞋架", "shoe_rack", {}),
    ("马克杯", "mug", {}),
    ("饭盒", "lunch_box", {}),
    ("不粘锅", "frying_pan", {}),
    ("电热水壶", "kettle", {}),
    ("瑜伽垫", "yoga_mat", {}),
    ("哑铃", "dumbbells", {}),
    ("羽毛球拍", "badminton_racket", {}),
    ("双肩包", "backpack", {}),
    ("口红", "lipstick", {}),
    ("面霜", "face_cream", {}),
    ("防晒霜", "sunscreen", {}),
    ("洗发水", "shampoo", {}),
    ("积木", "blocks", {}),
    ("毛绒玩具", "plush", {}),
    ("遥控车", "rc_car", {}),
    ("拼图", "puzzle", {}),
    # Attribute queries: gender, colour, material, size (some with Latin model names or capacities).
    ("男士纯棉T恤 白色", "tshirt", {"gender": "men", "material": "cotton", "colour": "white"}),
    ("纯棉t恤女", "tshirt", {"gender": "women", "material": "cotton"}),
    ("儿童T恤", "tshirt", {"gender": "kids"}),
    ("跑步鞋 男", "running_shoes", {"gender": "men"}),
    ("女士跑鞋", "running_shoes", {"gender": "women"}),
    ("黑色跑步鞋", "running_shoes", {"colour": "black"}),
    ("白色板鞋", "sneakers", {"colour": "white"}),
    ("帆布板鞋", "sneakers", {"material": "canvas"}),
    ("拖鞋 女", "slippers", {"gender": "women"}),
    ("儿童拖鞋", "slippers", {"gender": "kids"}),
    ("红色连衣裙", "dress", {"colour": "red"}),
    ("雪纺连衣裙", "dress", {"material": "chiffon"}),
    ("牛仔裤女", "jeans", {"gender": "women"}),
    ("黑色卫衣", "hoodie", {"colour": "black"}),
    ("男士灰色卫衣", "hoodie", {"gender": "men", "colour": "grey"}),
    ("羽绒服男", "down_jacket", {"gender": "men"}),
    ("羊毛袜", "socks", {"material": "wool"}),
    ("黑色瑜伽裤", "yoga_leggings", {"colour": "black"}),
    ("白色无线耳机", "earbuds", {"colour": "white"}),
    ("Lumora X6 手机壳", "phone_case", {"size": "lumora_x6"}),
    ("Pirra 8 Pro 钢化膜", "screen_protector", {"size": "pirra_8_pro"}),
    ("65W 充电器", "charger", {"size": "65w"}),
    ("数据线 2米", "charging_cable", {"size": "2m"}),
    ("充电宝 20000mAh", "power_bank", {"size": "20000mah"}),
    ("粉色机械键盘", "keyboard", {"colour": "pink"}),  # no exact product exists
    ("纯棉四件套", "bedding", {"material": "cotton"}),
    ("四件套 1.8米床", "bedding", {"size": "king"}),
    ("记忆棉枕头", "pillow", {"material": "memory_foam"}),
    ("500ml 保温杯", "thermos", {"size": "500ml"}),
    ("粉色保温杯", "thermos", {"colour": "pink"}),
    ("陶瓷马克杯", "mug", {"material": "ceramic"}),
    ("不锈钢饭盒", "lunch_box", {"material": "stainless"}),
    ("28cm 不粘锅", "frying_pan", {"size": "28cm"}),
    ("1.7L 电热水壶", "kettle", {"size": "1.7l"}),
    ("TPE瑜伽垫", "yoga_mat", {"material": "tpe"}),
    ("哑铃 10kg", "dumbbells", {"size": "10kg"}),
    ("篮球 7号", "basketball", {"size": "size7"}),
    ("红色口红", "lipstick", {"colour": "red"}),
    ("防晒霜 SPF50", "sunscreen", {"size": "spf50"}),
    ("1000片拼图", "puzzle", {"size": "1000pc"}),
    # Feature queries: the title must name the feature to be exact.
    ("儿童 防水 登山鞋", "hiking_boots", {"gender": "kids"}, "防水"),
    ("降噪耳机", "earbuds headphones", {}, "降噪"),
    ("护眼台灯", "desk_lamp", {}, "护眼"),
    ("加绒卫衣 女", "hoodie", {"gender": "women"}, "加绒"),
    ("高腰牛仔裤", "jeans", {}, "高腰"),
    ("氮化镓充电器", "charger", {}, "氮化镓"),
    ("防摔手机壳", "phone_case", {}, "防摔"),
    ("无硅油洗发水", "shampoo", {}, "无硅油"),
    ("速干T恤 男", "tshirt", {"gender": "men"}, "速干"),
    ("防水智能手表", "smart_watch", {}, "防水"),
]

# One language: more products per category than the mixed sample's 4 per (category, language), so every
# category has several judgeable titles after the unlabelled reserve is set aside.
SPEC = sample.Spec(QUERIES, langs=("zh",), products_per_group=7, unlabelled_reserve=130,
                   product_range=(350, 450), min_unlabelled=120)


def readme_text(queries: list[sample.Query], rows: list[tuple[sample.Query, sample.Product, int]],
                products: list[sample.Product]) -> str:
    judged = {p.pid for _, p, _ in rows}
    grades = Counter(g for _, _, g in rows)
    kinds = Counter("feature" if q.features else "attribute" if q.attrs else "head" for q in queries)
    latin = sum(any(c.isascii() and c.isalnum() for c in q.text) for q in queries)
    # Hard negatives: grade 0, sharing a character of the query's product words ("鞋柜" for "运动鞋").
    lookalike_queries = {q.qid for q, p, g in rows if g == 0 and sample.is_lookalike(q, p)}
    no_exact = [q.text for q in queries if not any(sample.grade(q, p) == 3 for p in products)]
    no_exact_text = "、".join(f'"{text}"' for text in no_exact)
    return f"""# Chinese sample data

A small Chinese e-commerce product-search log (apparel, shoes, electronics, home, kitchen, sports, beauty,
toys), all in Chinese: some queries and titles name a fictional phone model or a capacity in Latin letters.
It checks the pipeline's Chinese path on its own; the bundled mixed sample is in `../sample/`. Same format
and relevance scale as `../sample/README.md`.

```bash
python -m pipeline validate --data data/sample_zh --output build/zh_validate
python -m pipeline run --data data/sample_zh --output build/zh
```

## Files
- `search_log.csv`: judged pairs, columns `query_id,query,product_id,product_title,relevance`.
  - `query_id`: `q0001`...; one id per distinct query string.
  - `query`: the search text as a shopper types it: head queries ("T恤", "运动鞋", "保温杯"), attribute
    queries ("男士纯棉T恤 白色", "儿童 防水 登山鞋") and a few with a phone model or a capacity in Latin
    letters ("Lumora X6 手机壳", "500ml 保温杯").
  - `product_id`: `P00001`...; the same id always has the same title.
  - `product_title`: the product's title, as in `catalog.csv`.
  - `relevance`: graded judgement on the 0-3 scale below, written with a decimal point (`3.0`) so that
    CsvExampleGen reads the column as FLOAT, as `schemas/schema.pbtxt` expects.
- `catalog.csv`: `product_id,product_title`; every product, including all judged ones and the unlabelled
  products that sample augmentation may retrieve from.

## Relevance scale (gain = relevance)
| grade | meaning |
|---|---|
| 3 | exact: right category and every requested attribute (gender, colour, material, size/model) |
| 2 | substitute: right category, but a requested attribute differs (e.g. wrong colour or gender) |
| 1 | related: an accessory or neighbouring category (e.g. socks for "跑鞋") |
| 0 | irrelevant; some share characters with the query on purpose (e.g. a shoe cabinet "鞋柜" for "运动鞋") |

A feature the query names ("防水", "降噪", "护眼") counts as a requested attribute: an exact title names it, a
title of the right category without it is a substitute.

Every query has {sample.PAIRS_PER_QUERY[0]}-{sample.PAIRS_PER_QUERY[1]} judged products, at least three distinct grades,
at least one 0 and at least one 3, except where the catalogue holds no exact product (these top out at 2):
{no_exact_text}.

## Counts
- Queries: {len(queries)} ({kinds['head']} head queries, {kinds['attribute']} with attributes, \
{kinds['feature']} asking for a feature; {latin} contain Latin letters or digits)
- Judged pairs: {len(rows)} (grade 3: {grades[3]}, 2: {grades[2]}, 1: {grades[1]}, 0: {grades[0]}); \
{len(lookalike_queries)} queries have a grade-0 title that shares characters with the query
- Products: {len(products)}, all with Chinese titles: {len(judged)} judged, \
{len(products) - len(judged)} unlabelled (in no judged pair)

## Provenance and licence
Original data written by the project authors: every query, title and brand is invented (brands and phone
models such as "云步" or "Lumora X6" are fictional) and no third-party data is included. The files are
generated by `scripts/make_sample_zh.py` with the machinery of `scripts/make_sample_data.py` (seeded, so
rerunning it gives byte-identical files); edit the generator, not the CSVs.

Licence: Apache-2.0, like the rest of the project (see LICENSE); written by the project authors.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: data/sample_zh)")
    out_dir = parser.parse_args(argv).out
    queries, rows, products = sample.generate(SPEC, SEED)
    sample.write_csvs(out_dir, rows, products)
    (out_dir / "README.md").write_text(readme_text(queries, rows, products), encoding="utf-8")
    print(f"wrote {len(queries)} queries, {len(rows)} pairs, {len(products)} products to {out_dir}")


if __name__ == "__main__":
    main()
