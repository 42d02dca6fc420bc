#!/usr/bin/env python3
"""Generate the bundled sample data in data/sample/ (deterministic, standard library only).

Writes three files (scripts/make_sample_zh.py writes the Chinese-only sample with the same machinery):
  search_log.csv  judged (query, product) pairs with graded relevance 0-3
  catalog.csv     every product, judged or not (the unlabelled pool augmentation may use)
  README.md       description, scale, counts, provenance and licence

All text is invented here: fictional brands and phone models, no third-party data. Grades come from rules
over the structured product attributes, so they are consistent with the titles:
  3 = query category and every requested attribute (gender, colour, material, size) and feature (a word
      such as "防水" that the title must contain; the Chinese sample's queries ask for some)
  2 = query category, a requested attribute differs or is absent
  1 = accessory or neighbouring category
  0 = anything else (some share a word or character with the query: "shoe rack" for "running shoes")

Usage: python3 scripts/make_sample_data.py   (rerunning gives byte-identical files)
"""
from __future__ import annotations

import csv
import dataclasses
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # models/text.py: standard library only
from models.text import HAN_CLASS  # noqa: E402

SEED = 20261128
OUT_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"

BASE_PRODUCTS_PER_GROUP = 4  # random products per (category, language) before query-targeted ones
MIN_EXACT, MIN_SUBSTITUTES = 1, 2  # per query, in its language, among judgeable products
UNLABELLED_RESERVE = 160  # random products kept out of every judged pair
PAIRS_PER_QUERY = (6, 12)
CROSS_LANGUAGE_RATE = 0.12  # share of queries that get one judged title in the other language

# ---------------------------------------------------------------------------------------------------------
# Vocabulary: attribute values as (English, Chinese) labels.
# ---------------------------------------------------------------------------------------------------------

GENDER_EN = {"men": "men's", "women": "women's", "kids": "kids'"}
GENDER_EN_SUFFIX = {"men": "for men", "women": "for women", "kids": "for kids"}
GENDER_ZH_PREFIX = {"men": ("男士", "男款"), "women": ("女士", "女款"), "kids": ("儿童", "童款")}
GENDER_ZH_SUFFIX = {"men": ("男", "男款"), "women": ("女", "女款"), "kids": ("儿童款",)}

COLOURS = {
    "black": ("black", "黑色"), "white": ("white", "白色"), "grey": ("grey", "灰色"),
    "navy": ("navy", "藏青色"), "blue": ("blue", "蓝色"), "red": ("red", "红色"),
    "green": ("green", "绿色"), "yellow": ("yellow", "黄色"), "pink": ("pink", "粉色"),
    "purple": ("purple", "紫色"), "beige": ("beige", "米色"), "brown": ("brown", "棕色"),
    "clear": ("clear", "透明"), "silver": ("silver", "银色"),
}

MATERIALS = {
    "cotton": ("cotton", "纯棉"), "linen": ("linen", "亚麻"), "chiffon": ("chiffon", "雪纺"),
    "wool": ("wool", "羊毛"), "fleece": ("fleece", "摇粒绒"), "bamboo_fibre": ("bamboo fibre", "竹纤维"),
    "canvas": ("canvas", "帆布"), "leather": ("leather", "真皮"), "silicone": ("silicone", "硅胶"),
    "stainless": ("stainless steel", "不锈钢"), "ceramic": ("ceramic", "陶瓷"), "glass": ("glass", "玻璃"),
    "plastic": ("plastic", "塑料"), "fabric": ("fabric", "布艺"), "bamboo": ("bamboo", "竹制"),
    "memory_foam": ("memory foam", "记忆棉"), "latex": ("latex", "乳胶"), "buckwheat": ("buckwheat", "荞麦"),
    "cast_iron": ("cast iron", "铸铁"), "tpe": ("TPE", "TPE"), "nbr": ("NBR", "NBR"),
    "rubber": ("rubber-coated", "包胶"),
}

SIZES = {
    "lumora_x5": ("for Lumora X5", "适用Lumora X5"), "lumora_x6": ("for Lumora X6", "适用Lumora X6"),
    "pirra_8": ("for Pirra 8", "适用Pirra 8"), "pirra_8_pro": ("for Pirra 8 Pro", "适用Pirra 8 Pro"),
    "20w": ("20W", "20W"), "33w": ("33W", "33W"), "65w": ("65W", "65W"),
    "1m": ("1m", "1米"), "2m": ("2m", "2米"),
    "10000mah": ("10000mAh", "10000mAh"), "20000mah": ("20000mAh", "20000mAh"),
    "single": ("single", "1.2米床"), "queen": ("queen size", "1.5米床"), "king": ("king size", "1.8米床"),
    "350ml": ("350ml", "350ml"), "500ml": ("500ml", "500ml"), "750ml": ("750ml", "750ml"),
    "1l": ("1L", "1L"), "1.5l": ("1.5L", "1.5L"), "1.7l": ("1.7L", "1.7L"),
    "24cm": ("24cm", "24cm"), "28cm": ("28cm", "28cm"), "6mm": ("6mm", "6mm"), "10mm": ("10mm", "10mm"),
    "5kg": ("5kg", "5kg"), "10kg": ("10kg", "10kg"), "20kg": ("20kg", "20kg"),
    "size5": ("size 5", "5号"), "size7": ("size 7", "7号"), "20l": ("20L", "20L"), "30l": ("30L", "30L"),
    "spf30": ("SPF30", "SPF30"), "spf50": ("SPF50", "SPF50"),
    "500pc": ("500 pieces", "500片"), "1000pc": ("1000 pieces", "1000片"),
}

# Invented brand names, per department and language.
BRANDS = {
    "apparel": (("Tarnwick", "Velmora", "Fennwise"), ("轻风", "初棉", "木语")),
    "shoes": (("Stride Lite", "Pebblyn", "Trailmoor"), ("云步", "踏青", "迅足")),
    "electronics": (("Zephlin", "Corvane", "Kestova"), ("声屿", "凌川", "星屿")),
    "home": (("Mossgrove", "Halvio", "Norrick"), ("栖竹", "暖柚", "北岸")),
    "kitchen": (("Brightsill", "Ovenna", "Copperlane"), ("青禾", "禾厨", "小满屋")),
    "sports": (("Peakfold", "Rallyo", "Ironvale"), ("鹿野", "跃力", "山行")),
    "beauty": (("Solvea", "Petalune", "Mirelle"), ("晨露", "水漾", "花间语")),
    "toys": (("Tinkerloo", "Bramblebop", "Puzzlewick"), ("乐豆", "童趣岛", "小鹿屋")),
}

# ---------------------------------------------------------------------------------------------------------
# Categories: nouns (EN, ZH), attribute domains, flavour features and related (grade-1) categories.
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Category:
    key: str
    dept: str
    en: tuple[str, ...]
    zh: tuple[str, ...]
    en_features: tuple[str, ...]
    zh_features: tuple[str, ...]
    related: tuple[str, ...]
    genders: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()


def _cat(key, dept, en, zh, en_features, zh_features, related,
         genders="", colours="", materials="", sizes=""):
    """Build a Category from compact strings: '/' separates nouns and features, spaces separate keys."""
    return Category(
        key, dept, tuple(en.split("/")), tuple(zh.split("/")), tuple(en_features.split("/")),
        tuple(zh_features.split("/")), tuple(related.split()), tuple(genders.split()),
        tuple(colours.split()), tuple(materials.split()), tuple(sizes.split()),
    )


MF_KIDS = "men women kids"
CATEGORIES = [
    # apparel
    _cat("tshirt", "apparel", "T-shirt/tee/crew neck T-shirt", "T恤/短袖T恤/圆领T恤",
         "short sleeve/relaxed fit/printed/2-pack/quick-dry", "短袖/宽松/印花/两件装/速干",
         "hoodie jeans dress socks", MF_KIDS, "black white grey navy red green yellow pink", "cotton linen"),
    _cat("dress", "apparel", "dress/midi dress/maxi dress/A-line dress", "连衣裙/长裙/碎花连衣裙",
         "floral print/v-neck/short sleeve/summer/pleated", "V领/收腰/夏季/法式/短袖",
         "tshirt jeans hoodie", "women kids", "red black blue white pink green yellow beige",
         "cotton linen chiffon"),
    _cat("jeans", "apparel", "jeans/denim jeans/straight leg jeans/skinny jeans", "牛仔裤/直筒牛仔裤/修身牛仔裤",
         "stretch/high waist/slim fit/washed", "弹力/高腰/显瘦/水洗",
         "tshirt hoodie yoga_leggings sneakers", MF_KIDS, "blue black grey"),
    _cat("hoodie", "apparel", "hoodie/pullover hoodie/zip hoodie", "卫衣/连帽卫衣/开衫卫衣",
         "oversized/kangaroo pocket/brushed lining/drawstring hood", "加绒/宽松/套头/情侣款",
         "tshirt jeans down_jacket", MF_KIDS, "black grey navy white green pink", "cotton fleece"),
    _cat("down_jacket", "apparel", "down jacket/puffer jacket/hooded down coat", "羽绒服/短款羽绒服/长款羽绒服",
         "90% duck down/water-repellent/packable/stand collar", "白鸭绒/防泼水/加厚/立领",
         "hoodie hiking_boots socks", MF_KIDS, "black navy beige red white green"),
    _cat("socks", "apparel", "socks/crew socks/ankle socks", "袜子/中筒袜/船袜",
         "5 pairs/cushioned/breathable/sports", "五双装/毛巾底/透气/运动",
         "running_shoes sneakers hiking_boots slippers", MF_KIDS, "black white grey",
         "cotton wool bamboo_fibre"),
    _cat("yoga_leggings", "apparel", "yoga leggings/high-waist leggings/yoga pants", "瑜伽裤/高腰瑜伽裤/健身裤",
         "squat-proof/four-way stretch/with pockets", "提臀/弹力/速干/高弹",
         "yoga_mat tshirt running_shoes", "women", "black grey navy purple pink"),
    # shoes
    _cat("running_shoes", "shoes", "running shoes/running trainers/road running shoes", "跑步鞋/跑鞋/运动跑鞋",
         "breathable mesh/cushioned sole/lightweight/anti-slip outsole", "透气网面/缓震/轻便/防滑耐磨",
         "socks sneakers hiking_boots slippers smart_watch water_bottle", MF_KIDS,
         "black white grey blue red"),
    _cat("sneakers", "shoes", "sneakers/low-top sneakers/skate shoes", "板鞋/休闲板鞋/低帮板鞋",
         "classic/padded collar/vulcanised sole/lace-up", "百搭/软底/经典/系带",
         "socks running_shoes hiking_boots slippers jeans", MF_KIDS, "white black beige green",
         "canvas leather"),
    _cat("hiking_boots", "shoes", "hiking boots/trekking boots/mid-cut hiking boots", "登山鞋/徒步鞋/户外登山靴",
         "waterproof/grippy rubber sole/ankle support/durable", "防水/防滑大底/护踝/耐磨",
         "socks backpack running_shoes sneakers down_jacket", MF_KIDS, "brown black grey green", "leather"),
    _cat("slippers", "shoes", "slippers/house slippers/slides", "拖鞋/居家拖鞋/棉拖鞋",
         "non-slip/soft sole/memory foam insole/quiet", "防滑/软底/静音/浴室",
         "socks towel sneakers running_shoes", MF_KIDS, "grey pink beige black"),
    # electronics
    _cat("earbuds", "electronics", "wireless earbuds/true wireless earbuds/in-ear earbuds",
         "无线耳机/真无线耳机/入耳式无线耳机",
         "noise cancelling/30h battery/charging case/sweat resistant", "降噪/长续航/带充电仓/运动防汗",
         "headphones charger speaker charging_cable", colours="black white blue"),
    _cat("headphones", "electronics", "over-ear headphones/headphones/wireless headphones",
         "头戴式耳机/耳罩式耳机/头戴式降噪耳机",
         "foldable/noise cancelling/40mm drivers/wired and wireless", "可折叠/主动降噪/长续航/有线无线双模",
         "earbuds speaker", colours="black white grey"),
    _cat("phone_case", "electronics", "phone case/protective case/slim case", "手机壳/手机保护壳/防摔手机壳",
         "shockproof/slim fit/raised camera edge/magnetic", "防摔/超薄/镜头全包/磁吸",
         "screen_protector charger charging_cable power_bank", colours="black blue pink green purple",
         materials="silicone leather", sizes="lumora_x5 lumora_x6 pirra_8 pirra_8_pro"),
    _cat("screen_protector", "electronics",
         "screen protector/tempered glass screen protector/glass screen protector",
         "钢化膜/手机钢化膜/高清钢化膜",
         "2-pack/9H hardness/anti-fingerprint/easy install", "两片装/9H硬度/防指纹/一键贴合",
         "phone_case", sizes="lumora_x5 lumora_x6 pirra_8 pirra_8_pro"),
    _cat("charger", "electronics", "fast charger/wall charger/charging adapter", "充电器/快充充电头/充电头",
         "foldable plug/2 ports/compact/GaN", "折叠插脚/双口/小巧便携/氮化镓",
         "charging_cable power_bank phone_case", colours="white black", sizes="20w 33w 65w"),
    _cat("charging_cable", "electronics", "charging cable/fast charging cable/braided cable",
         "数据线/快充数据线/编织数据线",
         "braided/right-angle/2-pack/fast charging", "编织/弯头/两条装/快充",
         "charger power_bank", colours="white black", sizes="1m 2m"),
    _cat("power_bank", "electronics", "power bank/portable charger/battery pack", "充电宝/移动电源/便携充电宝",
         "slim/LED display/fast charging/2 outputs", "超薄/数显/快充/双输出",
         "charger charging_cable phone_case", colours="black white", sizes="10000mah 20000mah"),
    _cat("mouse", "electronics", "wireless mouse/silent wireless mouse/ergonomic mouse",
         "无线鼠标/静音无线鼠标/人体工学鼠标",
         "rechargeable/silent click/2.4G receiver/adjustable DPI", "可充电/静音/2.4G/办公",
         "keyboard", colours="black white grey pink"),
    _cat("keyboard", "electronics", "mechanical keyboard/gaming keyboard/compact keyboard",
         "机械键盘/游戏键盘/无线机械键盘",
         "hot-swappable/RGB backlight/87 keys/wireless", "热插拔/背光/87键/青轴",
         "mouse desk_lamp", colours="black white grey"),
    _cat("smart_watch", "electronics", "smart watch/fitness smart watch/smartwatch",
         "智能手表/运动智能手表/智能通话手表",
         "heart rate monitor/GPS/7-day battery/waterproof", "心率监测/GPS定位/超长续航/防水",
         "earbuds charger running_shoes", colours="black silver pink"),
    _cat("speaker", "electronics", "portable speaker/wireless speaker/mini speaker", "便携音箱/无线音箱/小音箱",
         "waterproof/12h playtime/deep bass/outdoor", "防水/重低音/户外/长续航",
         "headphones earbuds", colours="black blue red grey"),
    # home
    _cat("bedding", "home", "duvet cover set/bedding set/duvet cover", "四件套/床上四件套/被套四件套",
         "with pillowcases/soft washed/striped/solid colour", "磨毛/条纹/简约纯色/北欧风",
         "pillow towel", colours="white grey blue pink beige", materials="cotton linen",
         sizes="single queen king"),
    _cat("pillow", "home", "pillow/bed pillow/sleeping pillow", "枕头/枕芯/护颈枕",
         "neck support/washable cover/medium firm/single pack", "护颈/可水洗/单只装/助眠",
         "bedding", materials="memory_foam latex buckwheat"),
    _cat("towel", "home", "bath towel/towel/bath sheet", "浴巾/毛巾/大浴巾",
         "quick dry/extra large/absorbent/2-pack", "速干/加大/吸水/两条装",
         "bedding slippers shampoo", colours="white grey blue pink beige", materials="cotton bamboo_fibre"),
    _cat("storage_box", "home", "storage box/storage bin/foldable storage box", "收纳箱/收纳盒/整理箱",
         "with lid/stackable/large/60L", "带盖/可叠加/大号/衣物收纳",
         "shoe_rack desk_lamp", colours="white grey beige", materials="plastic fabric"),
    _cat("desk_lamp", "home", "desk lamp/LED desk lamp/reading lamp", "台灯/LED台灯/护眼台灯",
         "dimmable/eye-care/rechargeable/clip-on/adjustable arm", "护眼/可调光/充电款/夹子",
         "storage_box keyboard", colours="white black"),
    _cat("shoe_rack", "home", "shoe rack/shoe shelf/shoe storage rack", "鞋架/鞋柜/多层鞋架",
         "3-tier/4-tier/space-saving/stackable", "三层/四层/省空间/免安装",
         "storage_box door_mat", colours="white black brown", materials="bamboo stainless"),
    _cat("door_mat", "home", "door mat/doormat/entrance mat", "地垫/门口地垫/进门地垫",
         "non-slip/washable/absorbent/indoor outdoor", "防滑/可水洗/吸水/耐脏",
         "shoe_rack", colours="grey brown black beige"),
    # kitchen
    _cat("thermos", "kitchen", "insulated water bottle/vacuum flask/insulated tumbler", "保温杯/保温水杯/便携保温杯",
         "leak-proof lid/keeps drinks hot 12h/double-wall/with tea infuser", "防漏/长效保温/双层真空/带茶隔",
         "water_bottle mug lunch_box", colours="black white blue pink green", materials="stainless",
         sizes="350ml 500ml 750ml"),
    _cat("water_bottle", "kitchen", "water bottle/sports water bottle/drinking bottle", "运动水壶/塑料水杯/大容量水杯",
         "BPA-free/with straw/time marker/flip lid", "带吸管/刻度提醒/弹盖/食品级",
         "thermos mug backpack", colours="clear black blue pink green", materials="plastic glass",
         sizes="750ml 1l"),
    _cat("mug", "kitchen", "mug/coffee mug/tea mug", "马克杯/咖啡杯/早餐杯",
         "with lid/microwave safe/gift box/handmade glaze", "带盖/可微波/礼盒装/手绘",
         "thermos water_bottle kettle", colours="white black blue green beige",
         materials="ceramic glass stainless"),
    _cat("lunch_box", "kitchen", "lunch box/bento box/insulated lunch box", "饭盒/便当盒/保温饭盒",
         "leak-proof/2 compartments/microwave safe/with cutlery", "分格/可微波/带餐具/防漏",
         "thermos water_bottle", colours="blue pink green white", materials="stainless plastic"),
    _cat("frying_pan", "kitchen", "frying pan/non-stick frying pan/skillet", "平底锅/不粘锅/煎锅",
         "non-stick coating/induction compatible/with glass lid", "不粘涂层/电磁炉通用/带玻璃盖/少油烟",
         "knife_set kettle", materials="cast_iron stainless", sizes="24cm 28cm"),
    _cat("knife_set", "kitchen", "kitchen knife set/knife set/knife block set", "菜刀套装/厨房刀具套装/刀具套装",
         "6-piece/ultra sharp/ergonomic handle/dishwasher safe", "带刀座/六件套/锋利/防滑手柄",
         "frying_pan", materials="stainless"),
    _cat("kettle", "kitchen", "electric kettle/kettle/cordless kettle", "电热水壶/烧水壶/电水壶",
         "auto shut-off/fast boil/keep warm/boil-dry protection", "自动断电/快速烧水/保温/防干烧",
         "mug frying_pan", colours="white black grey", materials="stainless glass", sizes="1.5l 1.7l"),
    # sports
    _cat("yoga_mat", "sports", "yoga mat/exercise mat/non-slip yoga mat", "瑜伽垫/健身垫/加厚瑜伽垫",
         "non-slip/with carry strap/alignment lines/extra wide", "防滑/带背带/体位线/加宽",
         "yoga_leggings dumbbells", colours="purple pink blue green black grey", materials="tpe nbr",
         sizes="6mm 10mm"),
    _cat("dumbbells", "sports", "dumbbells/adjustable dumbbells/dumbbell set", "哑铃/可调节哑铃/哑铃套装",
         "pair/hex/home gym/non-slip grip", "一对/六角/家用健身/防滑",
         "yoga_mat", colours="black pink", materials="rubber", sizes="5kg 10kg 20kg"),
    _cat("basketball", "sports", "basketball/indoor outdoor basketball/street basketball", "篮球/室内外篮球/耐磨篮球",
         "grippy surface/durable/with pump", "防滑/耐磨/送打气筒/训练",
         "backpack socks", sizes="size5 size7"),
    _cat("badminton_racket", "sports", "badminton racket/badminton racquet/badminton set",
         "羽毛球拍/羽毛球拍套装/全碳素羽毛球拍",
         "carbon fibre/2 rackets/with shuttlecocks/lightweight", "碳纤维/双拍/送羽毛球/超轻",
         "backpack socks", colours="blue red black"),
    _cat("backpack", "sports", "backpack/laptop backpack/hiking backpack", "双肩包/电脑双肩包/旅行背包",
         "water-resistant/laptop sleeve/lightweight/many pockets", "防泼水/大容量/轻便/多隔层",
         "water_bottle pencil_case hiking_boots", colours="black grey navy green", sizes="20l 30l"),
    _cat("pencil_case", "home", "pencil case/pen case/stationery pouch", "笔袋/文具盒/铅笔盒",
         "large capacity/zip/3 compartments", "大容量/拉链/多层/简约",
         "backpack", colours="black pink blue", materials="canvas plastic"),
    # beauty
    _cat("lipstick", "beauty", "lipstick/matte lipstick/velvet lipstick", "口红/唇膏/哑光口红",
         "long-lasting/moisturising/gift set", "持久/滋润/不沾杯/礼盒装",
         "face_cream", colours="red pink beige brown"),
    _cat("face_cream", "beauty", "face cream/moisturising cream/night cream", "面霜/保湿面霜/晚霜",
         "hydrating/for dry skin/fragrance-free/50ml", "补水/干皮适用/无香/50ml",
         "sunscreen lipstick"),
    _cat("sunscreen", "beauty", "sunscreen/sun cream/sunscreen lotion", "防晒霜/防晒乳/防晒喷雾",
         "water resistant/lightweight/for face and body/non-greasy", "防水/清爽/面部身体可用/不油腻",
         "face_cream", sizes="spf30 spf50"),
    _cat("shampoo", "beauty", "shampoo/anti-dandruff shampoo/moisturising shampoo", "洗发水/去屑洗发水/洗发露",
         "for oily hair/sulfate-free/500ml/refill pack", "控油/无硅油/500ml/补充装",
         "towel face_cream"),
    # toys
    _cat("blocks", "toys", "building blocks/building block set/brick set", "积木/拼装积木/大颗粒积木",
         "500 pieces/for ages 6+/city series/storage bag", "500颗粒/6岁以上/益智/城市系列",
         "puzzle plush rc_car"),
    _cat("plush", "toys", "plush toy/stuffed animal/soft toy", "毛绒玩具/公仔/玩偶",
         "bear/30cm/huggable/gift for kids", "小熊/30cm/抱枕/生日礼物",
         "blocks", colours="pink brown white beige"),
    _cat("rc_car", "toys", "remote control car/RC car/remote control truck", "遥控车/遥控汽车/遥控越野车",
         "rechargeable/off-road/2.4GHz/high speed", "可充电/越野/高速/儿童玩具",
         "blocks", colours="red blue green yellow"),
    _cat("puzzle", "toys", "jigsaw puzzle/puzzle/landscape puzzle", "拼图/成人拼图/风景拼图",
         "for adults/landscape/with poster/thick pieces", "高难度/风景/附海报/加厚",
         "blocks", sizes="500pc 1000pc"),
]
CATS = {c.key: c for c in CATEGORIES}

# ---------------------------------------------------------------------------------------------------------
# Queries as shoppers type them, with their parse: (text, categories, requested attributes).
# ---------------------------------------------------------------------------------------------------------

QUERIES_EN = [
    ("running shoes", "running_shoes", {}),
    ("mens running shoes", "running_shoes", {"gender": "men"}),
    ("women's running shoes", "running_shoes", {"gender": "women"}),
    ("black running shoes", "running_shoes", {"colour": "black"}),
    ("kids running shoes", "running_shoes", {"gender": "kids"}),
    ("white sneakers", "sneakers", {"colour": "white"}),
    ("canvas sneakers", "sneakers", {"material": "canvas"}),
    ("hiking boots", "hiking_boots", {}),
    ("womens hiking boots", "hiking_boots", {"gender": "women"}),
    ("purple hiking boots", "hiking_boots", {"colour": "purple"}),  # no exact product exists
    ("slippers", "slippers", {}),
    ("women's red dress", "dress", {"gender": "women", "colour": "red"}),
    ("summer dress", "dress", {}),
    ("linen dress", "dress", {"material": "linen"}),
    ("men's t-shirt", "tshirt", {"gender": "men"}),
    ("white t shirt", "tshirt", {"colour": "white"}),
    ("cotton tee", "tshirt", {"material": "cotton"}),
    ("jeans", "jeans", {}),
    ("women's jeans", "jeans", {"gender": "women"}),
    ("black jeans", "jeans", {"colour": "black"}),
    ("mens grey hoodie", "hoodie", {"gender": "men", "colour": "grey"}),
    ("down jacket", "down_jacket", {}),
    ("women's down jacket", "down_jacket", {"gender": "women"}),
    ("wool socks", "socks", {"material": "wool"}),
    ("yoga leggings", "yoga_leggings", {}),
    ("wireless earbuds", "earbuds", {}),
    ("white wireless earbuds", "earbuds", {"colour": "white"}),
    ("over ear headphones", "headphones", {}),
    ("Lumora X5 phone case", "phone_case", {"size": "lumora_x5"}),
    ("leather phone case", "phone_case", {"material": "leather"}),
    ("screen protector", "screen_protector", {}),
    ("65w fast charger", "charger", {"size": "65w"}),
    ("charging cable 2m", "charging_cable", {"size": "2m"}),
    ("power bank 20000mah", "power_bank", {"size": "20000mah"}),
    ("wireless mouse", "mouse", {}),
    ("mechanical keyboard", "keyboard", {}),
    ("smart watch", "smart_watch", {}),
    ("portable speaker", "speaker", {}),
    ("king size duvet cover", "bedding", {"size": "king"}),
    ("memory foam pillow", "pillow", {"material": "memory_foam"}),
    ("bath towel", "towel", {}),
    ("desk lamp", "desk_lamp", {}),
    ("insulated water bottle", "thermos", {}),
    ("water bottle", "water_bottle thermos", {}),
    ("ceramic mug", "mug", {"material": "ceramic"}),
    ("non stick frying pan", "frying_pan", {}),
    ("electric kettle", "kettle", {}),
    ("yoga mat", "yoga_mat", {}),
    ("dumbbells 10kg", "dumbbells", {"size": "10kg"}),
    ("basketball", "basketball", {}),
    ("badminton racket", "badminton_racket", {}),
    ("backpack", "backpack", {}),
    ("red lipstick", "lipstick", {"colour": "red"}),
    ("sunscreen spf50", "sunscreen", {"size": "spf50"}),
    ("building blocks", "blocks", {}),
    ("remote control car", "rc_car", {}),
    ("1000 piece jigsaw puzzle", "puzzle", {"size": "1000pc"}),
]

QUERIES_ZH = [
    ("运动鞋", "running_shoes sneakers", {}),
    ("跑步鞋 男", "running_shoes", {"gender": "men"}),
    ("女士跑鞋", "running_shoes", {"gender": "women"}),
    ("白色板鞋", "sneakers", {"colour": "white"}),
    ("登山鞋", "hiking_boots", {}),
    ("拖鞋 女", "slippers", {"gender": "women"}),
    ("红色连衣裙", "dress", {"colour": "red"}),
    ("连衣裙", "dress", {}),
    ("雪纺连衣裙", "dress", {"material": "chiffon"}),
    ("T恤", "tshirt", {}),
    ("男士T恤", "tshirt", {"gender": "men"}),
    ("纯棉t恤女", "tshirt", {"gender": "women", "material": "cotton"}),
    ("儿童T恤", "tshirt", {"gender": "kids"}),
    ("牛仔裤女", "jeans", {"gender": "women"}),
    ("卫衣", "hoodie", {}),
    ("黑色卫衣", "hoodie", {"colour": "black"}),
    ("羽绒服男", "down_jacket", {"gender": "men"}),
    ("袜子", "socks", {}),
    ("无线耳机", "earbuds", {}),
    ("头戴式耳机", "headphones", {}),
    ("Lumora X6 手机壳", "phone_case", {"size": "lumora_x6"}),
    ("Pirra 8 钢化膜", "screen_protector", {"size": "pirra_8"}),
    ("充电宝", "power_bank", {}),
    ("数据线 1米", "charging_cable", {"size": "1m"}),
    ("无线鼠标", "mouse", {}),
    ("粉色机械键盘", "keyboard", {"colour": "pink"}),  # no exact product exists
    ("智能手表", "smart_watch", {}),
    ("纯棉四件套", "bedding", {"material": "cotton"}),
    ("枕头", "pillow", {}),
    ("保温杯", "thermos", {}),
    ("保温杯 500ml", "thermos", {"size": "500ml"}),
    ("马克杯", "mug", {}),
    ("不粘锅", "frying_pan", {}),
    ("电热水壶", "kettle", {}),
    ("瑜伽垫", "yoga_mat", {}),
    ("篮球 7号", "basketball", {"size": "size7"}),
    ("双肩包", "backpack", {}),
    ("口红", "lipstick", {}),
    ("防晒霜", "sunscreen", {}),
    ("积木", "blocks", {}),
    ("毛绒玩具", "plush", {}),
]


@dataclasses.dataclass(frozen=True)
class Spec:
    """One sample: its query table, the catalogue's languages and size, and the bounds validate() checks."""
    queries: list[tuple]  # (text, categories, attributes[, features]), as QUERIES_EN
    langs: tuple[str, ...] = ("en", "zh")
    products_per_group: int = BASE_PRODUCTS_PER_GROUP
    unlabelled_reserve: int = UNLABELLED_RESERVE
    product_range: tuple[int, int] = (350, 450)
    min_unlabelled: int = 150


MIXED = Spec(QUERIES_EN + QUERIES_ZH)  # the bundled English and Chinese sample, data/sample/


@dataclasses.dataclass
class Query:
    text: str
    lang: str
    cats: tuple[str, ...]
    attrs: dict[str, str]
    qid: str = ""
    features: tuple[str, ...] = ()  # words the title must contain to be exact, e.g. "防水"

    @property
    def related(self) -> set[str]:
        """Categories graded 1: related to any query category, excluding the query categories."""
        return {r for c in self.cats for r in CATS[c].related} - set(self.cats)


@dataclasses.dataclass
class Product:
    cat: str
    lang: str
    attrs: dict[str, str]
    title: str = ""
    pid: str = ""
    reserved: bool = False  # kept out of every judged pair (part of the unlabelled catalogue)


def is_chinese(text: str) -> bool:
    return re.search(f"[{HAN_CLASS}]", text) is not None


def build_queries(table: list[tuple]) -> list[Query]:
    """Parse a query table of (text, categories, attributes[, features]); language is Chinese when the text
    holds any Chinese character."""
    queries = []
    for text, cats, attrs, *features in table:
        queries.append(Query(text, "zh" if is_chinese(text) else "en", tuple(cats.split()), dict(attrs),
                             features=tuple(" ".join(features).split())))
    return queries


# ---------------------------------------------------------------------------------------------------------
# Grading and text overlap.
# ---------------------------------------------------------------------------------------------------------


def grade(query: Query, product: Product) -> int:
    """The relevance rule: 3 exact, 2 substitute, 1 related, 0 irrelevant."""
    if product.cat in query.cats:
        exact = all(product.attrs.get(k) == v for k, v in query.attrs.items()) and has_features(query, product)
        return 3 if exact else 2
    return 1 if product.cat in query.related else 0


def has_features(query: Query, product: Product) -> bool:
    """Whether the title names every feature the query asks for (features live in titles, not attributes)."""
    return all(feature in product.title for feature in query.features)


STOP_TOKENS = {"for", "with", "and", "of", "s", "色", "款", "式", "装"}


def tokens(text: str) -> set[str]:
    """Lower-case English words (plural 's' stripped) and single Chinese characters."""
    text = text.lower()
    words = {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", text)}
    return (words | set(re.findall(f"[{HAN_CLASS}]", text))) - STOP_TOKENS


def attribute_tokens(query: Query) -> set[str]:
    """Tokens of the requested attributes' labels (both languages), of the features and of gender words."""
    labels = {"gender": {g: (GENDER_EN[g], *GENDER_ZH_PREFIX[g], *GENDER_ZH_SUFFIX[g]) for g in GENDER_EN},
              "colour": COLOURS, "material": MATERIALS, "size": SIZES}
    words = [w for k, v in query.attrs.items() for w in labels[k][v]] + [*query.features, "mens", "womens"]
    return tokens(" ".join(words))


def is_lookalike(query: Query, product: Product) -> bool:
    """Whether the title shares a product word (not just an attribute) with the query: "shoe shelf"."""
    return bool((tokens(query.text) - attribute_tokens(query)) & tokens(product.title))


# ---------------------------------------------------------------------------------------------------------
# Products: attributes and titles.
# ---------------------------------------------------------------------------------------------------------


def random_attrs(cat: Category, rng: random.Random) -> dict[str, str]:
    """Gender, colour and size always set where the category has them; material on most products."""
    attrs = {}
    if cat.genders:
        attrs["gender"] = rng.choice(cat.genders)
    if cat.colours:
        attrs["colour"] = rng.choice(cat.colours)
    if cat.materials and rng.random() < 0.7:
        attrs["material"] = rng.choice(cat.materials)
    if cat.sizes:
        attrs["size"] = rng.choice(cat.sizes)
    return attrs


def pick_features(noun: str, features: tuple[str, ...], k: int, rng: random.Random) -> list[str]:
    """k features that do not repeat a word (EN) or a two-character chunk (ZH) of the noun."""
    def repeats(f: str) -> bool:
        if is_chinese(f):
            return any(f[i:i + 2] in noun for i in range(len(f) - 1))
        return bool(set(f.lower().split()) & set(noun.lower().split()))
    usable = [f for f in features if not repeats(f)]
    return rng.sample(usable, min(k, len(usable)))


def en_title(p: Product, cat: Category, rng: random.Random) -> str:
    """E.g. "Stride Lite men's running shoes, breathable mesh, black" (order and separators vary)."""
    noun = rng.choice(cat.en)
    a = p.attrs
    before, after = [], []  # words before the noun / details after it
    if "gender" in a:
        if rng.random() < 0.75:
            before.append(GENDER_EN[a["gender"]])
        else:
            noun = f"{noun} {GENDER_EN_SUFFIX[a['gender']]}"
    if "colour" in a:
        (before if rng.random() < 0.4 else after).append(COLOURS[a["colour"]][0])
    if "material" in a:
        before.append(MATERIALS[a["material"]][0])
    if "size" in a:
        size = SIZES[a["size"]][0]
        if rng.random() < 0.25 and not size.startswith("for "):
            before.insert(0, size)  # "65W fast charger"
        else:
            after.append(size)
    after += pick_features(noun, cat.en_features, rng.randint(1, 2), rng)
    rng.shuffle(after)
    brand = rng.choice(BRANDS[cat.dept][0]) if rng.random() < 0.75 else ""
    head = " ".join(x for x in [brand, *before, noun] if x)
    first_sep, sep = rng.choice([(", ", ", "), (" - ", ", "), (" | ", " | "), (", ", " / ")])
    title = head + (first_sep + sep.join(after) if after else "")
    return title[0].upper() + title[1:]


DETAIL_ONLY_PREFIXES = ("送", "附")


def zh_title(p: Product, cat: Category, rng: random.Random) -> str:
    """E.g. "轻风 男士纯棉圆领短袖T恤 白色" (order and placement vary)."""
    noun = rng.choice(cat.zh)
    a = p.attrs
    feats = pick_features(noun, cat.zh_features, rng.randint(1, 2), rng)
    core, details = [], []  # core is written without spaces; details follow after spaces
    gender_suffix = ""
    if "gender" in a:
        if rng.random() < 0.7 or a["gender"] == "kids":
            core.append(rng.choice(GENDER_ZH_PREFIX[a["gender"]]))
        else:
            gender_suffix = rng.choice(GENDER_ZH_SUFFIX[a["gender"]])
    if "colour" in a:
        (core.append if rng.random() < 0.3 else details.append)(COLOURS[a["colour"]][1])
    if "material" in a:
        core.append(MATERIALS[a["material"]][1])
    if feats and rng.random() < 0.6 and not feats[0].startswith(DETAIL_ONLY_PREFIXES) and "装" not in feats[0]:
        core.append(feats.pop(0))  # e.g. "纯棉短袖T恤"; gifts and pack sizes stay in the details
    core += [noun, gender_suffix]
    if "size" in a:
        details.append(SIZES[a["size"]][1])
    details += feats
    rng.shuffle(details)
    brand = rng.choice(BRANDS[cat.dept][1]) if rng.random() < 0.75 else ""
    return " ".join(x for x in [brand, "".join(core), *details] if x)


def make_product(cat: Category, lang: str, attrs: dict[str, str], used_titles: set[str],
                 rng: random.Random, features: tuple[str, ...] = ()) -> Product:
    """A product with a title not used before that names every one of `features` (titles are redrawn
    until both hold)."""
    p = Product(cat.key, lang, attrs)
    for _ in range(200):
        p.title = en_title(p, cat, rng) if lang == "en" else zh_title(p, cat, rng)
        if p.title not in used_titles and all(feature in p.title for feature in features):
            used_titles.add(p.title)
            return p
    raise RuntimeError(f"could not find a fresh title for {cat.key}/{lang}")


# ---------------------------------------------------------------------------------------------------------
# Catalogue: random products, an unlabelled reserve, then products targeted at queries.
# ---------------------------------------------------------------------------------------------------------


def base_products(rng: random.Random, used_titles: set[str], langs: tuple[str, ...],
                  per_group: int) -> list[Product]:
    """A few random products for every category in each language."""
    return [make_product(cat, lang, random_attrs(cat, rng), used_titles, rng)
            for cat in CATEGORIES for lang in langs for _ in range(per_group)]


def attrs_in_domain(query: Query, cat: Category) -> bool:
    """Whether a product of this category can carry every attribute and feature the query asks for."""
    domains = {"gender": cat.genders, "colour": cat.colours, "material": cat.materials, "size": cat.sizes}
    words = cat.zh + cat.zh_features + cat.en + cat.en_features  # where a title's features come from
    return (all(v in domains[k] for k, v in query.attrs.items())
            and all(any(feature in w for w in words) for feature in query.features))


def substitute_attrs(query: Query, cat: Category, exact: dict[str, str],
                     rng: random.Random) -> dict[str, str]:
    """Exact attributes with one requested attribute changed to another value of its domain."""
    domains = {"gender": cat.genders, "colour": cat.colours, "material": cat.materials, "size": cat.sizes}
    key = rng.choice(sorted(query.attrs))
    attrs = dict(exact)
    attrs[key] = rng.choice([v for v in domains[key] if v != query.attrs[key]])
    return attrs


def targeted_products(queries: list[Query], judgeable: list[Product], rng: random.Random,
                      used_titles: set[str]) -> list[Product]:
    """Top up the judgeable pool in the query's language to MIN_EXACT exact products (where one can exist)
    and, for queries with attributes or features, MIN_SUBSTITUTES substitutes."""
    added: list[Product] = []
    for q in queries:
        cat = CATS[q.cats[0]]
        grades = Counter(grade(q, p) for p in judgeable + added if p.lang == q.lang)
        possible = attrs_in_domain(q, cat)
        for _ in range(MIN_EXACT - grades[3] if possible else 0):
            added.append(make_product(cat, q.lang, {**random_attrs(cat, rng), **q.attrs}, used_titles, rng,
                                      q.features))
        for _ in range(MIN_SUBSTITUTES - grades[2] if q.attrs or q.features else 0):
            exact = {**random_attrs(cat, rng), **q.attrs}
            # A query asking only for features: most random titles lack them (grade 2), some name them (3).
            attrs = substitute_attrs(q, cat, exact, rng) if possible and q.attrs else random_attrs(cat, rng)
            added.append(make_product(cat, q.lang, attrs, used_titles, rng))
    return added


def build_catalog(queries: list[Query], rng: random.Random, spec: Spec) -> list[Product]:
    """All products, shuffled and numbered P00001...; some random ones are marked reserved."""
    used_titles: set[str] = set()
    base = base_products(rng, used_titles, spec.langs, spec.products_per_group)
    for p in rng.sample(base, spec.unlabelled_reserve):
        p.reserved = True
    judgeable = [p for p in base if not p.reserved]
    products = base + targeted_products(queries, judgeable, rng, used_titles)
    rng.shuffle(products)
    for n, p in enumerate(products, 1):
        p.pid = f"P{n:05d}"
    return products


# ---------------------------------------------------------------------------------------------------------
# Judgements.
# ---------------------------------------------------------------------------------------------------------


def take(pool: list[Product], k: int, picked: list[Product], rng: random.Random) -> None:
    """Move up to k random products not yet picked from pool into picked."""
    free = [p for p in pool if p not in picked]
    picked.extend(rng.sample(free, min(k, len(free))))


def cross_language_candidates(q: Query, pool: list[Product], rng: random.Random) -> list[Product]:
    """Other-language products: half the time only graded ones (1-3), otherwise any."""
    other = [p for p in pool if p.lang != q.lang]
    graded = [p for p in other if grade(q, p) > 0]
    return graded if graded and rng.random() < 0.5 else other


def judge_query(q: Query, pool: list[Product], rng: random.Random) -> list[tuple[Product, int]]:
    """6-12 judged products: exact, substitutes, related, a look-alike, irrelevant; shuffled."""
    same = [p for p in pool if p.lang == q.lang]
    by_grade = {g: [p for p in same if grade(q, p) == g] for g in range(4)}
    lookalikes = [p for p in by_grade[0] if is_lookalike(q, p)]
    picked: list[Product] = []
    take(by_grade[3], rng.randint(1, 3), picked, rng)
    take(by_grade[2], rng.randint(1, 3), picked, rng)
    take(by_grade[1], rng.randint(1, 2), picked, rng)
    take(lookalikes, 1, picked, rng)
    take(by_grade[0], rng.randint(1, 2), picked, rng)
    target = rng.randint(*PAIRS_PER_QUERY)
    target = min(target, len(same))
    while len(picked) < target:  # fill from all grades, related (1) less often
        take(by_grade[rng.choice([3, 3, 2, 2, 1, 0, 0])], 1, picked, rng)
    if rng.random() < CROSS_LANGUAGE_RATE and len(picked) < PAIRS_PER_QUERY[1]:
        take(cross_language_candidates(q, pool, rng), 1, picked, rng)
    rng.shuffle(picked)
    return [(p, grade(q, p)) for p in picked]


def judge_all(queries: list[Query], products: list[Product],
              rng: random.Random) -> list[tuple[Query, Product, int]]:
    pool = [p for p in products if not p.reserved]
    return [(q, p, g) for q in queries for p, g in judge_query(q, pool, rng)]


def assign_query_ids(queries: list[Query], rng: random.Random) -> list[Query]:
    """Interleave the languages (shuffle) and number the queries q0001, q0002, ..."""
    queries = list(queries)
    rng.shuffle(queries)
    for n, q in enumerate(queries, 1):
        q.qid = f"q{n:04d}"
    return queries


# ---------------------------------------------------------------------------------------------------------
# Checks and output.
# ---------------------------------------------------------------------------------------------------------


def validate(rows: list[tuple[Query, Product, int]], products: list[Product], spec: Spec) -> None:
    """Raise ValueError when the data breaks one of the documented properties."""
    def require(ok: bool, message: str) -> None:
        if not ok:
            raise ValueError(message)
    per_query: dict[str, list[int]] = {}
    for q, p, g in rows:
        per_query.setdefault(q.text, []).append(g)
    queries = {q.text: q for q, _, _ in rows}
    for text, grades in per_query.items():
        top = 3 if any(grade(queries[text], p) == 3 for p in products) else 2
        require(PAIRS_PER_QUERY[0] <= len(grades) <= PAIRS_PER_QUERY[1], f"{text}: {len(grades)} products")
        require(len(set(grades)) >= 3, f"{text}: fewer than 3 distinct grades {grades}")
        require(0 in grades and top in grades, f"{text}: no 0 or no {top} in {grades}")
    require(len({(q.qid, p.pid) for q, p, _ in rows}) == len(rows), "duplicate (query, product) pair")
    require(len({p.title for p in products}) == len(products), "duplicate product title")
    unlabelled = len(products) - len({p.pid for _, p, _ in rows})
    low, high = spec.product_range
    require(low <= len(products) <= high, f"{len(products)} products")
    require(unlabelled >= spec.min_unlabelled, f"only {unlabelled} unlabelled products")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def readme_text(queries: list[Query], rows: list[tuple[Query, Product, int]], products: list[Product]) -> str:
    langs = Counter(q.lang for q in queries)
    judged = {p.pid for _, p, _ in rows}
    grades = Counter(g for _, _, g in rows)
    cross = sum(1 for q, p, _ in rows if q.lang != p.lang)
    return f"""# Sample data

A small e-commerce product-search log (apparel, shoes, electronics, home, kitchen, sports, beauty, toys) in
English and Chinese, bundled so that `make demo` runs without any external data.

## Files
- `search_log.csv`: judged pairs, columns `query_id,query,product_id,product_title,relevance`.
  - `query_id`: `q0001`...; one id per distinct query string.
  - `query`: the search text as a shopper types it (English, Chinese, a few mixed).
  - `product_id`: `P00001`...; the same id always has the same title.
  - `product_title`: the product's title, as in `catalog.csv`.
  - `relevance`: graded judgement on the 0-3 scale below, written with a decimal point (`3.0`) so that CsvExampleGen reads the column as FLOAT, as `schemas/schema.pbtxt` expects; fractional grades (e.g. a mean of raters, `2.5`) are allowed.
- `catalog.csv`: `product_id,product_title`; every product, including all judged ones and the unlabelled
  products that sample augmentation may retrieve from.
- `impressions.csv`: the unlabelled search traffic, columns `query_id,query,product_id,product_title` (no
  grade): 30 logged queries (`t0001`...; 20 English, 10 Chinese), none of them judged in `search_log.csv`,
  each with the products a plain lexical engine shows for it (up to 8 titles of `catalog.csv` sharing the
  most words or Han characters with the query), 224 pairs. The pipeline's teacher grades them (origin
  `traffic`). Written by `scripts/make_sample_impressions.py` (deterministic), whose query list is ours.

## Relevance scale (gain = relevance)
| grade | meaning |
|---|---|
| 3 | exact: right category and every requested attribute (gender, colour, material, size/model) |
| 2 | substitute: right category, but a requested attribute differs (e.g. wrong colour or gender) |
| 1 | related: an accessory or neighbouring category (e.g. socks for "running shoes") |
| 0 | irrelevant; some share a word with the query on purpose (e.g. a shoe shelf for "running shoes") |

Every query has {PAIRS_PER_QUERY[0]}-{PAIRS_PER_QUERY[1]} judged products, at least three distinct grades,
at least one 0 and at least one 3 (two queries, "purple hiking boots" and "粉色机械键盘", have no exact
product in the catalogue and top out at 2).

## Counts
- Queries: {len(queries)} ({langs['en']} English, {langs['zh']} Chinese; a few Chinese ones name a phone model \
or a capacity in Latin letters)
- Judged pairs: {len(rows)} (grade 3: {grades[3]}, 2: {grades[2]}, 1: {grades[1]}, 0: {grades[0]}); \
{cross} pairs cross languages
- Products: {len(products)} ({sum(p.lang == 'en' for p in products)} English titles, \
{sum(p.lang == 'zh' for p in products)} Chinese titles): {len(judged)} judged, \
{len(products) - len(judged)} unlabelled (in no judged pair)

## Provenance and licence
Original data written by the project authors: every query, title and brand is invented (brands and phone
models such as "Stride Lite" or "Lumora X5" are fictional) and no third-party data is included. The files
are generated by `scripts/make_sample_data.py` (seeded, so rerunning it gives byte-identical files); edit the
generator, not the CSVs.

Licence: Apache-2.0, like the rest of the project (see LICENSE); written by the project authors.
"""


def generate(spec: Spec, seed: int) -> tuple[list[Query], list[tuple[Query, Product, int]], list[Product]]:
    """(queries, judged rows, products) of a sample, checked by validate()."""
    rng = random.Random(seed)
    queries = build_queries(spec.queries)
    products = build_catalog(queries, rng, spec)
    queries = assign_query_ids(queries, rng)
    rows = judge_all(queries, products, rng)
    validate(rows, products, spec)
    return queries, rows, products


def write_csvs(out_dir: Path, rows: list[tuple[Query, Product, int]], products: list[Product]) -> None:
    """search_log.csv and catalog.csv of a sample."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "search_log.csv", ["query_id", "query", "product_id", "product_title", "relevance"],
              # "3.0", not "3": CsvExampleGen infers column types, and the schema wants FLOAT grades.
              [[q.qid, q.text, p.pid, p.title, f"{g:.1f}"] for q, p, g in rows])
    write_csv(out_dir / "catalog.csv", ["product_id", "product_title"], [[p.pid, p.title] for p in products])


def main() -> None:
    queries, rows, products = generate(MIXED, SEED)
    write_csvs(OUT_DIR, rows, products)
    (OUT_DIR / "README.md").write_text(readme_text(queries, rows, products), encoding="utf-8")
    print(f"wrote {len(queries)} queries, {len(rows)} pairs, {len(products)} products to {OUT_DIR}")


if __name__ == "__main__":
    main()
