"""`units.yaml`: the region and the units (communes, wards) that report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from flows.config.base import ConfigModel


class Unit(ConfigModel):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    kind: Literal["phường", "xã", "thị trấn", "quận", "huyện", "thị xã", "thành phố"]
    emails: list[str] = Field(default_factory=list)
    active: bool = True

    @property
    def full_name(self) -> str:
        """"Phường Tứ Hạ", "Xã Bình Tiến"."""
        return f"{self.kind.capitalize()} {self.name}"


class Region(ConfigModel):
    name: str
    short_name: str
    province: str


class Units(ConfigModel):
    region: Region
    staff_emails: list[str] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)

    def active(self) -> list[Unit]:
        return [unit for unit in self.units if unit.active]

    def by_code(self) -> dict[str, Unit]:
        return {unit.code: unit for unit in self.units}



def units_problems(units: Units) -> list[str]:
    problems = []
    codes = [unit.code for unit in units.units]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(f"units: mã đơn vị {code!r} bị trùng")
    names = [(unit.kind, unit.name) for unit in units.units]
    for kind, name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"units: đơn vị {kind} {name} khai báo hai lần")
    return [f"units.yaml: {p}" for p in problems]

