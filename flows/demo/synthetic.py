"""Realistic, internally consistent synthetic answers for the Hương Trà form.

Used by the demo workspace, the tests and the benchmarks. Numbers are plausible for a town of
about 60,000 people (9 units of 5,000–10,000 people, a quarter of them children under 16).
Totals equal the sums of their parts, de-duplicated totals lie between the largest group and
the sum of groups, and allowances follow Decree 20/2021 (360,000 đồng × coefficient).

The answers are also steady enough for the outlier checks (`flows.core.outliers`) to find
nothing in them: each count is the unit's own level (its size × a rate drawn once per unit,
within ±12% of the town's typical rate), varied at most ±8% a year; derived counts keep a fixed
per-unit proportion to the count they come from (children among attendees, trainees per course,
the budget's sources); flows of the partial last year are scaled by its share of the year for
every unit alike (compared only across units), stocks are not scaled. So in the demo only the
planted problems stand out.
"""

from __future__ import annotations

import random
from datetime import date

from flows.config import Form, Unit
from flows.core.layout import make_key

BASE_ALLOWANCE = 360_000  # đồng per month, Decree 20/2021 from 01/07/2021
HCDB_RANGES = {  # children per unit and year, by group of Art. 10 of the Child Law
    "a": (0, 3), "b": (0, 1), "c": (0, 2), "d": (8, 25), "dd": (0, 1), "e": (0, 2), "g": (0, 0),
    "h": (0, 2), "i": (0, 1), "k": (0, 1), "l": (0, 2), "m": (0, 0), "n": (1, 6), "o": (0, 0),
}
REPORTERS = ["Nguyễn Thị Hoa", "Trần Văn Bình", "Lê Thị Thu", "Phan Thanh Hải", "Hoàng Thị Mai",
             "Võ Văn Tâm", "Đặng Thị Lan", "Hồ Văn Phúc", "Trương Thị Ngọc", "Lê Văn Đức"]
POSITIONS = ["Công chức Văn hóa - Xã hội", "Phó Chủ tịch UBND", "Cán bộ Lao động - TB và XH"]
TEXTS = {
    "D1": ["Các chính sách cho trẻ em có hoàn cảnh đặc biệt được chi trả đầy đủ, kịp thời.",
           "Duy trì mạng lưới cộng tác viên bảo vệ trẻ em ở tất cả thôn, tổ dân phố.",
           "Tổ chức tốt Tháng hành động vì trẻ em và Tết Trung thu cho trẻ em."],
    "D2": ["Một số thôn chưa có điểm vui chơi cho trẻ em.",
           "Công tác quản lý trường hợp còn lúng túng, hồ sơ chưa đầy đủ.",
           "Tuyên truyền chưa thường xuyên ở khu vực xa trung tâm."],
    "D3": ["Cán bộ làm công tác trẻ em kiêm nhiệm nhiều việc, thường xuyên thay đổi.",
           "Kinh phí cho công tác bảo vệ trẻ em còn hạn chế.",
           "Cộng tác viên chưa được tập huấn kỹ năng can thiệp."],
    "D4": ["Đề nghị thị xã tổ chức tập huấn quản lý trường hợp cho cán bộ xã.",
           "Đề nghị bố trí kinh phí xây dựng điểm vui chơi cho trẻ em.",
           "Đề nghị có chế độ phụ cấp cho cộng tác viên bảo vệ trẻ em."],
}


def _split(total: int, rng: random.Random, share: float = 0.515) -> tuple[int, int]:
    spread = 0.015 if total > 200 else 0.15  # large populations sit close to the sex ratio
    male = min(total, max(0, round(total * rng.uniform(share - spread, share + spread))))
    return male, total - male


def _by_sex(values: dict, code: str, row: str, year: int, total: int, rng: random.Random) -> None:
    male, female = _split(total, rng)
    prefix = f"{row}," if row else ""
    values[make_key(code, f"{prefix}tong", year)] = total
    values[make_key(code, f"{prefix}nam", year)] = male
    values[make_key(code, f"{prefix}nu", year)] = female


class _Levels:
    """Per-unit levels drawn once, varied ±8% each year, so a unit's years stay comparable and
    units of a size stay comparable with each other (independent draws per year, or rates that
    differ several-fold between units, would look like data errors to the outlier checks)."""

    RATE = 0.12  # a unit's level: the typical one × its size, within ±12%
    YEARLY = 0.08  # a year's value: the unit's level within ±8%

    def __init__(self, rng: random.Random, size: float = 1.0):
        self.rng = rng
        self.size = size
        self.base: dict[str, float] = {}

    def value(self, name: str, typical: float, share: float = 1.0, scaled: bool = True,
              steady: bool = False) -> float:
        """This year's (unrounded) value of the unit's level `name`: `typical` for a unit of
        size 1 (`scaled`: times the unit's size), times `share` (of the year); `steady`: the
        same every year (a handful of children does not change by a fraction of a child)."""
        if name not in self.base:
            rate = self.rng.uniform(1 - self.RATE, 1 + self.RATE)
            self.base[name] = typical * (self.size if scaled else 1.0) * rate
        yearly = 1.0 if steady else self.rng.uniform(1 - self.YEARLY, 1 + self.YEARLY)
        return self.base[name] * yearly * share

    def __call__(self, name: str, typical: float, share: float = 1.0, scaled: bool = True,
                 steady: bool = False) -> int:
        return max(0, round(self.value(name, typical, share, scaled, steady)))

    def fixed(self, name: str, lo: float, hi: float) -> float:
        """A per-unit proportion drawn once, the same every year."""
        if name not in self.base:
            self.base[name] = self.rng.uniform(lo, hi)
        return self.base[name]

    def choice(self, name: str, options: list[float]) -> float:
        """A fixed per-unit choice among legal values (no yearly jitter)."""
        if name not in self.base:
            self.base[name] = self.rng.choice(options)
        return self.base[name]


def _year_share(year: int, form: Form) -> float:
    """The last year is only asked up to the reporting date (a quarter of a year here)."""
    return 0.25 if year == form.years[-1] else 1.0


def _children(values: dict, form: Form, year: int, rng: random.Random, level: _Levels) -> dict:
    """C1–C6: special circumstances, risk, abuse and case management for one year."""
    flow = _year_share(year, form)
    # C1: groups by sex, and the de-duplicated total by sex
    dedup = {"nam": 0, "nu": 0}
    for sex in ("nam", "nu"):
        groups = {g: level(f"C1{g}{sex}", (lo + hi) / 4, steady=hi - lo < 8)
                  for g, (lo, hi) in HCDB_RANGES.items()}
        overlap = min(int(level.choice(f"C1overlap{sex}", [0, 1, 1, 2])),
                      sum(groups.values()) - max(groups.values()))
        dedup[sex] = sum(groups.values()) - overlap
        for group, n in groups.items():
            values[make_key("C1", f"{group},{sex}", year)] = n
    for group in HCDB_RANGES:
        values[make_key("C1", f"{group},tong", year)] = sum(
            values[make_key("C1", f"{group},{sex}", year)] for sex in ("nam", "nu"))
    values[make_key("C1", "tong,nam", year)] = dedup["nam"]
    values[make_key("C1", "tong,nu", year)] = dedup["nu"]
    values[make_key("C1", "tong,tong", year)] = dedup["nam"] + dedup["nu"]
    at_risk = level("C2", 12)
    _by_sex(values, "C2", "", year, at_risk, rng)
    # C3/C4/C5: abuse (rare); cases ≤ children
    forms = ["bao_luc", "tinh_duc", "boc_lot", "mua_ban", "bo_roi", "khac"]
    weights = [4, 3, 1, 0.2, 1, 1]
    children = {f: 0 for f in forms}
    # rare: at most two children a year, so no commune's handful stands out from the others'
    for _ in range(rng.choice([0, 0, 1, 1, 2]) if flow == 1 else rng.choice([0, 0, 1])):
        children[rng.choices(forms, weights)[0]] += 1
    for f in forms:
        _by_sex(values, "C4", f, year, children[f], rng)
        # a form with abused children has at least one case; one case may involve several
        values[make_key("C3", f, year)] = rng.randint(min(children[f], 1), children[f])
    abused = sum(children.values())
    for sex in ("tong", "nam", "nu"):
        values[make_key("C4", f"tong,{sex}", year)] = sum(
            values[make_key("C4", f"{f},{sex}", year)] for f in forms)
    values[make_key("C3", "tong", year)] = sum(values[make_key("C3", f, year)] for f in forms)
    ages = {"duoi_3": 0, "tu_3_den_6": 0, "tu_6_den_13": 0, "tu_13_den_16": 0}
    for _ in range(abused):
        ages[rng.choices(list(ages), [1, 2, 5, 4])[0]] += 1
    values[make_key("C5", "tong", year)] = abused
    for age, n in ages.items():
        values[make_key("C5", age, year)] = n
    # C6: case management
    reports = abused + rng.randint(0, 1)
    assessed = rng.randint(abused, reports)
    plans = rng.randint(min(abused, assessed), assessed)
    supported = min(plans + rng.randint(0, 1), abused + at_risk)
    for code, n in (("C6.1", reports), ("C6.2", rng.randint(0, reports)), ("C6.3", assessed),
                    ("C6.4", plans), ("C6.5", supported), ("C6.6", rng.randint(0, supported))):
        values[make_key(code, "", year)] = n
    return dedup


def _activities(values: dict, form: Form, year: int, villages: int, rng: random.Random,
                level: _Levels) -> None:
    """A and B: direction, communication, staff, training, responsibilities, inspections."""
    flow = _year_share(year, form)

    def count(lo: int, hi: int) -> int:
        return max(0, round(rng.randint(lo, hi) * flow)) if flow < 1 else rng.randint(lo, hi)

    values[make_key("A1", "", year)] = count(2, 5)
    plans = count(1, 3)
    values[make_key("A2", "", year)] = plans
    values[make_key("A3", "", year)] = rng.randint(max(plans - 1, 0), plans)
    values[make_key("A4", "", year)] = count(1, 3)
    values[make_key("A5", "", year)] = "Có"
    # sessions and their attendance move together: one level, a fixed audience per session
    sessions = level.value("B1.1", 8, flow)
    attendance = round(sessions * level.fixed("per_session", 38, 42))
    values.update({
        make_key("B1.1", "", year): max(1, round(sessions)),
        make_key("B1.2", "", year): attendance,
        make_key("B1.3", "", year): round(attendance * level.fixed("child_share", 0.4, 0.5)),
        make_key("B1.4", "", year): level("B1.4", 40, flow, scaled=False),
        make_key("B1.5", "", year): level("B1.5", 200, flow),
        make_key("B2.1", "", year): level.choice("B2.1", [0, 1]),
        make_key("B2.2", "", year): level.choice("B2.2", [1, 1, 2]),
    })
    # collaborators: a stock, in nearly every village, the same people from year to year
    covered = max(villages - int(level.choice("uncovered", [0, 0, 1, 2])), 0)
    values[make_key("B2.3", "", year)] = (covered + int(level.choice("extra_ctv", [0, 1, 2, 3]))
                                          + rng.choice([0, 0, 1]))
    values[make_key("B2.4", "", year)] = covered
    courses = level.value("B3.1", 2, flow)
    values[make_key("B3.1", "", year)] = max(1, round(courses))
    values[make_key("B3.2", "", year)] = max(1, round(courses * level.fixed("per_course", 24, 28)))
    for code in ("B4.1", "B4.2", "B4.3", "B4.4", "B4.5", "B4.6"):
        values[make_key(code, "", year)] = "Có" if rng.random() < 0.8 else "Không"
    received = rng.choice([0, 0, 1, 2, 3]) if flow == 1 else rng.choice([0, 1])
    values.update({
        make_key("B5.1", "", year): (inspections := count(0, 2)),
        make_key("B5.2", "", year): rng.choice([0, 0, 0, 1]) if inspections else 0,
        make_key("B5.3", "", year): received,
        make_key("B5.4", "", year): rng.randint(max(received - 1, 0), received),
    })


def _money(values: dict, form: Form, year: int, dedup_total: int, rng: random.Random,
           level: _Levels) -> None:
    """C7 allowances (Decree 20/2021) and C8 budget, in đồng."""
    months = 12 * _year_share(year, form)
    on_allowance = min(level("C7.1", 7, steady=True), dedup_total)
    # Decree 20/2021 coefficients are fixed steps (1.5 from 4 years old, 2.5 under 4), never
    # above 2.5; each child on the list keeps its own from year to year.
    coefficients = [level.choice(f"coefficient{i}", [1.5, 1.5, 2.5]) for i in range(on_allowance)]
    values[make_key("C7.1", "", year)] = on_allowance
    values[make_key("C7.2", "", year)] = round(sum(coefficients) * BASE_ALLOWANCE * months)
    # other support: Tết gifts fall in the first quarter, so it holds half the year's
    other = level("C7.3", 30, _year_share(year, form) ** 0.5)
    values[make_key("C7.3", "", year)] = other
    values[make_key("C7.4", "", year)] = other * round(level.fixed("gift", 9.5, 11.5)) * 50_000
    # the budget: much the same for every commune, spent at the unit's own steady pace
    allocated = level("C8.1", 50, scaled=False) * 500_000
    pace = level.fixed("execution", 0.85, 0.95) * rng.uniform(0.97, 1.03)
    spent = round(allocated * pace * _year_share(year, form), -3)
    own = round(spent * level.fixed("own", 0.52, 0.58), -3)
    upper = round((spent - own) * level.fixed("upper", 0.57, 0.63), -3)
    values.update({
        make_key("C8.1", "", year): allocated,
        make_key("C8.2", "", year): spent,
        make_key("C8.3", "", year): own,
        make_key("C8.4", "", year): upper,
        make_key("C8.5", "", year): spent - own - upper,
    })


def _documents(values: dict, form: Form, end: date, rng: random.Random) -> None:
    """The list of directive documents: exactly A1 rows per year, dated in that year."""
    kinds = ["Kế hoạch", "Công văn", "Quyết định", "Thông báo"]
    topics = ["thực hiện công tác trẻ em", "phòng, chống xâm hại trẻ em",
              "tổ chức Tháng hành động vì trẻ em", "phòng, chống đuối nước trẻ em",
              "chăm sóc trẻ em có hoàn cảnh đặc biệt"]
    row = 1
    for year in form.years:
        for n in range(values[make_key("A1", "", year)]):
            last = end if year == end.year else date(year, 12, 31)
            day = date(year, 1, 1).toordinal() + rng.randint(0, last.toordinal()
                                                             - date(year, 1, 1).toordinal())
            kind = rng.choice(kinds)
            symbol = {"Kế hoạch": "KH", "Công văn": "UBND", "Quyết định": "QĐ",
                      "Thông báo": "TB"}[kind]
            values[make_key("A.VB", f"{row},trich_yeu")] = (
                f"{kind} về {rng.choice(topics)} năm {year}")
            values[make_key("A.VB", f"{row},so_ky_hieu")] = f"{n + 10 + row}/{symbol}-UBND"
            values[make_key("A.VB", f"{row},ngay")] = date.fromordinal(day)
            values[make_key("A.VB", f"{row},loai")] = kind
            row += 1


def synthetic_answers(form: Form, unit: Unit, rng: random.Random, *, reporting_end: date,
                      completed: date | None) -> dict[str, object]:
    """A complete, consistent set of answers for one unit: key → value as a commune types it."""
    size = rng.uniform(0.8, 1.25) * (1.1 if unit.kind == "phường" else 1.0)
    values: dict[str, object] = {
        make_key("TT.1"): unit.full_name, make_key("TT.2"): unit.code,
        make_key("TT.3"): rng.choice(REPORTERS), make_key("TT.4"): rng.choice(POSITIONS),
        make_key("TT.5"): f"0234 3{rng.randint(100, 999)} {rng.randint(100, 999)}",
        make_key("TT.6"): "Đã hoàn thành" if completed else "Đang nhập",
    }
    if completed:
        values[make_key("TT.7")] = completed
    villages = min(20, max(6, round(12 * size * rng.uniform(0.88, 1.12))))
    level = _Levels(rng, size)
    children = round(1800 * size)
    households = children / level.fixed("per_household", 1.5, 1.9)
    for year in form.years:
        values[make_key("TT.8", "", year)] = villages
        values[make_key("TT.9", "", year)] = round(households * rng.uniform(0.98, 1.02))
        _by_sex(values, "TT.10", "", year, children + rng.randint(-40, 40), rng)
        dedup = _children(values, form, year, rng, level)
        _activities(values, form, year, villages, rng, level)
        _money(values, form, year, dedup["nam"] + dedup["nu"], rng, level)
    _documents(values, form, reporting_end, rng)
    for code, pool in TEXTS.items():
        values[make_key(code)] = "\n".join(f"- {line}" for line in rng.sample(pool, 2))
    return values
