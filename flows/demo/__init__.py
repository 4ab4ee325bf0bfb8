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


def _not_started(answers: dict, config: Config) -> str:
    """Only the prefilled name and code."""
    kept = {make_key("TT.1"), make_key("TT.2")}
    for key in [k for k in answers if k not in kept]:
        del answers[key]
    return "chưa bắt đầu nhập"


def _late(answers: dict, config: Config) -> str:
    answers[make_key("TT.7")] = date.fromordinal(config.plan.deadline.toordinal() + 3)
    return "hoàn thành trễ hạn"


def _in_progress(answers: dict, config: Config) -> str:
    answers[make_key("TT.6")] = "Đang nhập"
    answers.pop(make_key("TT.7"), None)
    for key in [k for k in answers if k.startswith(("C7.", "C8.", "D3|", "D4|"))]:
        del answers[key]
    return "đang nhập, còn bỏ trống nhiều ô bắt buộc"


def _text_in_numbers(answers: dict, config: Config) -> str:
    answers[make_key("B1.2", "", 2022)] = "120 lượt"
    answers[make_key("B5.1", "", 2021)] = "mười"
    return "chữ trong ô số (“120 lượt”, “mười”)"


def _separator_and_text_date(answers: dict, config: Config) -> str:
    start = config.plan.self_inspection.start
    answers[make_key("B1.5", "", 2021)] = "1.234"
    answers[make_key("TT.7")] = f"{start.day + 10:02d}/{start.month:02d}/{start.year}"
    return "“1.234” trong ô số, ngày hoàn thành gõ dạng chữ"


def _boys_and_girls(answers: dict, config: Config) -> str:
    key = make_key("C2", "nam", 2022)
    answers[key] = int(answers[key]) + 3
    return "số trẻ nam + nữ khác tổng số (C2, năm 2022)"


def _resolved_over_received(answers: dict, config: Config) -> str:
    received = int(answers[make_key("B5.3", "", 2022)])
    answers[make_key("B5.4", "", 2022)] = received + 2
    return "số đơn thư đã giải quyết lớn hơn số đã tiếp nhận (năm 2022)"


# (where in the unit list, what happens): one unit each; with fewer units, fewer plants.
PLANTS = [(-1, _not_started), (4, _late), (-2, _in_progress), (3, _text_in_numbers),
          (2, _separator_and_text_date), (5, _boys_and_girls), (6, _resolved_over_received)]


def plant_problems(config: Config, answers: dict[str, dict[str, object]]) -> list[Plant]:
    """Change the clean answers so the demo shows what commune staff really do: each planted
    problem in its own unit (a form without the indicator it needs skips it)."""
    units = [u.code for u in config.units.active()]
    used: set[str] = set()
    plants: list[Plant] = []
    for position, plant in PLANTS:
        code = units[position % len(units)] if units else None
        if code in used:
            code = next((u for u in units if u not in used), None)
        if code is None:
            break
        try:
            plants.append(Plant(code, plant(answers[code], config)))
        except (KeyError, ValueError, TypeError):  # the form has no such indicator
            continue
        used.add(code)
    return plants


def demo_answers(config: Config, seed: int = 2023) -> tuple[dict[str, dict[str, object]],
                                                             list[Plant]]:
    """Every active unit's answers (key → value, as typed) with the problems planted. Each
    unit's answers come from their own random stream: one unit's never shift another's."""
    # completion days from their own stream, so the story of dates stays the same when the
    # way answers are drawn changes
    days = random.Random(f"{seed}-completion-days")
    window = config.plan.self_inspection
    answers: dict[str, dict[str, object]] = {}
    for unit in config.units.active():
        done = date.fromordinal(days.randint(window.start.toordinal() + 5,
                                             window.end.toordinal()))
        answers[unit.code] = synthetic_answers(
            config.form, unit, random.Random(f"{seed}-{unit.code}"),
            reporting_end=config.plan.reporting_period.end, completed=done)
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
