"""Config files are checked on load; a mistake names the file, the key path and what to write.

The mistakes are made in a copy of the test config (tests/config); one test describes the
shipped deployment itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from helpers import TEST_CONFIG_DIR

from flows.config import ConfigError, load_config


@pytest.fixture
def config_copy(tmp_path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, folder)
    return folder


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems(folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    return caught.value.problems


@pytest.mark.shipped
def test_the_shipped_config_describes_huong_tra_2023(shipped_config):
    config = shipped_config
    names = {u.name for u in config.units.units}
    assert names == {"Tứ Hạ", "Hương Văn", "Hương Vân", "Hương Xuân", "Hương Chữ", "Hương Toàn",
                     "Bình Tiến", "Bình Thành", "Hương Bình"}
    assert [u.kind for u in config.units.units].count("phường") == 5
    assert str(config.plan.deadline) == "2023-03-31"
    assert config.plan.timezone == "Asia/Ho_Chi_Minh"
    assert config.form.years == [2021, 2022, 2023]
    assert len(config.form.dimensions["nhom_hcdb"].categories) == 15  # 14 groups + total
    assert {"integer", "money", "yesno", "date", "text", "choice"} <= {
        i.type for i in config.form.items()}


def test_a_wrong_type_names_file_key_path_and_allowed_values(config_copy):
    edit(config_copy / "form.yaml",
         lambda d: d["tabs"][2]["blocks"][0]["items"][1].update(type="number"))
    [problem] = problems(config_copy)
    assert problem.startswith("form.yaml: tabs[2].blocks[0].items[1].type:")
    assert "integer" in problem and "'number'" in problem


def test_a_missing_key_and_a_typo_are_both_reported(config_copy):
    edit(config_copy / "plan.yaml", lambda d: (d.pop("deadline"), d.update(dealine="2023-03-31")))
    found = problems(config_copy)
    assert "plan.yaml: deadline: thiếu khoá bắt buộc" in found
    assert any(p.startswith("plan.yaml: dealine: khoá không được biết đến") for p in found)


def test_a_bad_date_and_timezone(config_copy):
    edit(config_copy / "plan.yaml", lambda d: d.update(deadline="31/03/2023", timezone="Asia/Hue"))
    found = problems(config_copy)
    assert any(p.startswith("plan.yaml: deadline: cần một ngày dạng YYYY-MM-DD") for p in found)
    assert any("timezone" in p and "Asia/Hue" in p for p in found)


def test_cross_references_are_checked_before_any_workbook_is_opened(config_copy):
    def change(d):
        d["tabs"][4]["blocks"][0]["items"][0]["rows"] = "nhom_khong_co"
        d["tabs"][1]["blocks"][0]["items"][1]["code"] = "A1"

    edit(config_copy / "form.yaml", change)
    found = problems(config_copy)
    assert any("rows: không có phân tổ 'nhom_khong_co'" in p for p in found)
    assert any("mã chỉ tiêu 'A1' bị trùng" in p for p in found)


def test_duplicate_unit_codes(config_copy):
    edit(config_copy / "units.yaml", lambda d: d["units"][2].update(code="P02"))
    assert "units.yaml: units: mã đơn vị 'P02' bị trùng" in problems(config_copy)


def test_yaml_syntax_error_gives_the_line(config_copy):
    (config_copy / "units.yaml").write_text("region: [unclosed\n", encoding="utf-8")
    [problem] = problems(config_copy)
    assert "units.yaml (dòng" in problem and "YAML" in problem


def test_a_missing_file(tmp_path):
    found = problems(tmp_path)
    assert len(found) == 3 and all("không tìm thấy tệp cấu hình" in p for p in found)


def test_the_cli_prints_config_problems_without_a_traceback(config_copy, tmp_path, cli):
    edit(config_copy / "units.yaml", lambda d: d["units"][0].update(kind="làng"))
    result = cli("template", "--out", tmp_path / "x.xlsx", "--config", config_copy, code=2)
    assert "units.yaml: units[0].kind" in result.output
    assert "Traceback" not in result.output


def test_report_indicators_must_exist_in_the_form(config_copy):
    edit(config_copy / "plan.yaml", lambda d: d["report"].update(key_indicators=["C1", "C99"]))
    assert problems(config_copy) == [
        "plan.yaml: report.key_indicators[1]: không có chỉ tiêu 'C99' trong biểu mẫu (form.yaml)"]


def test_allowed_values_are_listed_in_vietnamese(config_copy):
    edit(config_copy / "units.yaml", lambda d: d["units"][0].update(kind="làng"))
    [problem] = problems(config_copy)
    assert " hoặc " in problem and " or " not in problem
