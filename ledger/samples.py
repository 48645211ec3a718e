"""Made-up but realistic rows for the demo and the benchmarks: Chinese names and addresses,
ID numbers with valid check digits. Deterministic for a given seed. No real person's data."""

from __future__ import annotations

import csv
import random
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥建国庆志晓东海燕春梅"
STREETS = ("天河区体育西路", "越秀区中山五路", "海珠区新港中路", "番禺区市桥街", "白云区机场路", "黄埔区科学大道")
COMPANIES = ("科技", "贸易", "电子", "生物医药", "新能源", "物流", "餐饮管理", "文化传媒")
CHECK = "10X98765432"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_number(rng: random.Random, birth: str, area: str = "440106") -> str:
    body = f"{area}{birth.replace('-', '')}{rng.randint(0, 999):03d}"
    return body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def person(rng: random.Random) -> dict[str, str]:
    birth = f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return {
        "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
        "sex": rng.choice("MF"),
        "ethnicity": "汉",
        "birthDate": birth,
        "address": f"广东省广州市{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2808)}房",
        "idNumber": id_number(rng, birth),
    }


def write_id_cards(path: Path, n: int, seed: int = 7, valid_until: str = "2036-12-31") -> Path:
    """A CSV export of ``n`` ID_CARD rows (header = field names, plus validUntil and reference)."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "sex", "ethnicity", "birthDate", "address", "idNumber", "validUntil", "reference"])
        for i in range(n):
            p = person(rng)
            w.writerow(
                [
                    p["name"],
                    p["sex"],
                    p["ethnicity"],
                    p["birthDate"],
                    p["address"],
                    p["idNumber"],
                    valid_until,
                    f"APP{i:08d}",
                ]
            )
    return path


def write_business_licences(path: Path, n: int, seed: int = 9) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "companyName",
                "creditCode",
                "legalRepresentative",
                "companyType",
                "registeredCapital",
                "establishedOn",
                "address",
                "reference",
            ]
        )
        for i in range(n):
            code = "91" + "440101" + "".join(rng.choice(CREDIT_CHARS) for _ in range(10))
            w.writerow(
                [
                    f"广州{rng.choice('华粤穗南天海')}{rng.choice('盛达信通创宏')}{rng.choice(COMPANIES)}有限公司",
                    code,
                    person(rng)["name"],
                    "有限责任公司",
                    rng.choice([100, 500, 1000, 5000]),
                    f"{rng.randint(2000, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"广东省广州市{rng.choice(STREETS)}{rng.randint(1, 999)}号",
                    f"BL{i:06d}",
                ]
            )
    return path
