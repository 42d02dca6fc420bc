"""Writes data/sample/impressions.csv: the sample's unlabelled search traffic (queries and the products shown
for them, no grade), which the pipeline's teacher grades as augmentation.

The queries are ours, written for this file: shopper queries of the sample's categories that are not judged
in search_log.csv (English and Chinese). "Shown" products are what a plain lexical engine would show: the
catalogue titles ranked by shared tokens (words; Han characters one by one), the first SHOWN_PER_QUERY with
any overlap, ties by product id. Deterministic: rerunning gives a byte-identical file.

    python scripts/make_sample_impressions.py
"""
import csv
import pathlib
import re

DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "sample"
OUT_FILE = DATA_DIR / "impressions.csv"
SHOWN_PER_QUERY = 8
QUERIES = (
    "blue running shoes", "womens black hoodie", "kids down jacket", "leather backpack", "grey wool socks",
    "ceramic coffee mug", "stainless steel water bottle", "bluetooth speaker waterproof", "usb c charging cable",
    "phone case for Pirra 8 Pro", "wireless gaming mouse", "white desk lamp", "cotton bath towel set",
    "yoga mat non slip", "kids building blocks set", "football", "red dress for women", "mens jeans slim",
    "noise cancelling headphones", "frying pan 28cm",
    "蓝色跑步鞋", "儿童羽绒服", "黑色双肩包", "陶瓷马克杯", "蓝牙音箱", "无线游戏鼠标", "瑜伽垫 防滑", "男士牛仔裤",
    "女士卫衣", "纯棉毛巾",
)
_TOKEN = re.compile(r"[\u4e00-\u9fff]|[0-9a-z]+")


def tokens(text: str) -> set:
    return set(_TOKEN.findall(text.lower()))


def shown_products(query: str, catalog: list) -> list:
    """The catalogue rows a lexical engine shows for the query: most shared tokens first."""
    wanted = tokens(query)
    scored = [(-len(wanted & tokens(title)), product_id, title) for product_id, title in catalog]
    return [(product_id, title) for overlap, product_id, title in sorted(scored) if overlap < 0][:SHOWN_PER_QUERY]


def main() -> None:
    with open(DATA_DIR / "catalog.csv", encoding="utf-8", newline="") as f:
        catalog = [(row["product_id"], row["product_title"]) for row in csv.DictReader(f)]
    with open(DATA_DIR / "search_log.csv", encoding="utf-8", newline="") as f:
        judged = {row["query"] for row in csv.DictReader(f)}
    rows = []
    for number, query in enumerate(QUERIES, start=1):
        if query in judged:
            raise ValueError(f"{query!r} is a judged query of search_log.csv: traffic must be other queries")
        rows += [(f"t{number:04d}", query, product_id, title) for product_id, title in shown_products(query, catalog)]
    with open(OUT_FILE, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("query_id", "query", "product_id", "product_title"))
        writer.writerows(rows)
    print(f"wrote {len(rows)} impressions of {len(QUERIES)} queries to {OUT_FILE}")


if __name__ == "__main__":
    main()
