"""The demo workspace: one filled workbook per unit, with a few realistic problems planted."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flows.config import Config
from flows.core.cells import strip_accents
from flows.core.layout import build_layout, make_key
from flows.demo.synthetic import synthetic_answers
from flows.sources.xlsx import write_template

DEMO_AS_OF = date(2023, 4, 5)


@dataclass(frozen=True)
class Plant:
    """A deliberate problem in one unit's workbook, and what the pipeline should say."""

    unit: str
    what: str


def _file_name(code: str, name: str) -> str:
    return f"{code}-{strip_accents(name).lower().replace(' ', '-')}.xlsx"


def plant_problems(config: Config, answers: dict[str, dict[str, object]]) -> list[Plant]:
    """Change the clean answers so the demo shows what commune staff really do."""
    units = [u.code for u in config.units.active()]
    plants: list[Plant] = []
    start = config.plan.self_inspection.start

    def unit(i: int) -> str:
        return units[i % len(units)]

    # The last unit has not started: only the prefilled name and code.
    code = unit(-1)
    answers[code] = {k: v for k, v in answers[code].items()
                     if k in (make_key("TT.1"), make_key("TT.2"))}
    plants.append(Plant(code, "chưa bắt đầu nhập"))
    # One unit completed after the deadline.
    code = unit(4)
    answers[code][make_key("TT.7")] = date.fromordinal(config.plan.deadline.toordinal() + 3)
    plants.append(Plant(code, "hoàn thành trễ hạn"))
    # One unit still typing: blank required cells.
    code = unit(-2)
    answers[code][make_key("TT.6")] = "Đang nhập"
    answers[code].pop(make_key("TT.7"), None)
    for key in [k for k in answers[code] if k.startswith(("C7.", "C8.", "D3|", "D4|"))]:
        del answers[code][key]
    plants.append(Plant(code, "đang nhập, còn bỏ trống nhiều ô bắt buộc"))
    # Text in number cells.
    code = unit(3)
    answers[code][make_key("B1.2", "", 2022)] = "120 lượt"
    answers[code][make_key("B5.1", "", 2021)] = "mười"
    plants.append(Plant(code, "chữ trong ô số (“120 lượt”, “mười”)"))
    # Vietnamese thousands separator, and a date typed as text.
    code = unit(2)
    answers[code][make_key("B1.5", "", 2021)] = "1.234"
    answers[code][make_key("TT.7")] = f"{start.day + 10:02d}/{start.month:02d}/{start.year}"
    plants.append(Plant(code, "“1.234” trong ô số, ngày hoàn thành gõ dạng chữ"))
    # Numbers that cannot all be right: boys + girls ≠ total; more complaints resolved than
    # received.
    code = unit(5)
    key = make_key("C2", "nam", 2022)
    answers[code][key] = int(answers[code][key]) + 3
    plants.append(Plant(code, "số trẻ nam + nữ khác tổng số (C2, năm 2022)"))
    code = unit(6)
    received = int(answers[code][make_key("B5.3", "", 2022)])
    answers[code][make_key("B5.4", "", 2022)] = received + 2
    plants.append(Plant(code, "số đơn thư đã giải quyết lớn hơn số đã tiếp nhận (năm 2022)"))
    return plants


def demo_answers(config: Config, seed: int = 2023) -> tuple[dict[str, dict[str, object]],
                                                             list[Plant]]:
    """Every active unit's answers (key → value, as typed) with the problems planted."""
    rng = random.Random(seed)
    window = config.plan.self_inspection
    answers: dict[str, dict[str, object]] = {}
    for unit in config.units.active():
        done = date.fromordinal(rng.randint(window.start.toordinal() + 5, window.end.toordinal()))
        answers[unit.code] = synthetic_answers(
            config.form, unit, rng, reporting_end=config.plan.reporting_period.end, completed=done)
    return answers, plant_problems(config, answers)


def build_workspace(config: Config, workspace: Path, seed: int = 2023) -> list[Plant]:
    """Write `workspace/nguon/` with one filled workbook per active unit."""
    answers, plants = demo_answers(config, seed)
    source = workspace / "nguon"
    source.mkdir(parents=True, exist_ok=True)
    for unit in config.units.active():
        layout = build_layout(config, unit)
        write_template(layout, source / _file_name(unit.code, unit.name), answers[unit.code])
    return plants
