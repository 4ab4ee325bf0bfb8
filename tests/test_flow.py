"""End to end with a real Prefect flow run: templates out, filled workbooks in, tables out.

The round trip and the broken commune use the test config (tests/config); the demo is the
shipped deployment's (config/, thị xã Hương Trà).
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import pandas as pd
import pytest
from helpers import TEST_CONFIG_DIR, insert_rows, read_back, reorder_and_rename
from openpyxl import load_workbook

pytestmark = pytest.mark.prefect


def random_value(entry: dict, rng: random.Random):
    kind = entry["type"]
    if entry["choices"]:
        return rng.choice(entry["choices"])
    if kind == "integer":
        return rng.choice([0, rng.randint(1, 60), rng.randint(100, 9000)])
    if kind == "money":
        return rng.randrange(0, 2_000_000_000, 1000)
    if kind == "date":
        return date(2021, 1, 1) + timedelta(days=rng.randint(0, 800))
    text = rng.choice(["Tốt", "Đảm bảo đúng tiến độ", "Thiếu kinh phí; cần hỗ trợ",
                       "Đề nghị tập huấn thêm", "=IMPORTXML(\"http://x\")"])
    return f"{text} {rng.randint(1, 99)}"


def canonical(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def fill(path, entries, rng) -> dict[tuple, str]:
    """Type a random valid value into every input cell, using only the cell map."""
    wb = load_workbook(path)
    typed = {}
    for entry in entries:
        ws = wb[entry["sheet"]]
        if entry["role"] in ("unit_code", "unit_name"):
            value = ws[entry["cell"]].value
        else:
            value = random_value(entry, rng)
            ws[entry["cell"]] = value
            if isinstance(value, str) and value.startswith("="):
                ws[entry["cell"]].data_type = "s"  # typed as text, as Excel stores it
        typed[(entry["key"])] = canonical(value)
    wb.save(path)
    return typed


def test_round_trip_every_unit_every_cell(config, tmp_path, cli, prefect_api):
    rng = random.Random(42)
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    cli("template", "--cell-map", tmp_path / "map.json", "--config", TEST_CONFIG_DIR, code=0)
    entries = json.loads((tmp_path / "map.json").read_text(encoding="utf-8"))
    expected = {}
    for i, unit in enumerate(config.units.active()):
        path = source / f"{i:02d}-bang-tinh.xlsx"
        cli("template", "--out", path, "--unit", unit.code, "--config", TEST_CONFIG_DIR, code=0)
        typed = fill(path, entries, rng)
        expected.update({(unit.code, key): value for key, value in typed.items()})
        if i % 3 == 0:  # some communes insert rows and shuffle tabs after typing
            insert_rows(path, "C. Hỗ trợ, can thiệp", 15, 2)  # among the groups of C1
            insert_rows(path, "B. Bảo đảm quyền trẻ em", 9)  # above B1.1
            reorder_and_rename(path, {"A. Lãnh đạo, chỉ đạo": "Lãnh đạo"})
    output = cli("consolidate", "--source", source, "--out", out, "--as-of", "2023-03-31",
                 "--no-pdf", "--config", TEST_CONFIG_DIR, code=0).output
    assert "6/6" in output
    assert read_back(out) == expected
    status = pd.read_csv(out / "status.csv")
    assert status["completeness"].eq(100).all() and status["found"].all()


@pytest.mark.shipped
def test_the_shipped_demo_runs_the_flow_and_shows_the_planted_problems(tmp_path, cli,
                                                                       prefect_api):
    output = cli("demo", "--workspace", tmp_path / "demo", code=0).output
    out = tmp_path / "demo" / "ket-qua"
    for name in ("values.csv", "findings.csv", "status.csv", "lists.csv", "run.json"):
        assert (out / name).is_file()
    # the report's two versions, named in run.json: published (small counts protected), internal
    report_files = json.loads((out / "run.json").read_text(encoding="utf-8"))["report_files"]
    assert report_files["internal"] == ["bao-cao-noi-bo.docx", "phu-luc-noi-bo.xlsx"]
    assert {"bao-cao.docx", "report.html", "phu-luc.xlsx"} <= set(report_files["published"])
    assert all((out / name).is_file() for names in report_files.values() for name in names)
    assert "Tình hình nhập liệu" in output and "Hương Bình" in output
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    planted = set(zip(findings.unit_code, findings.rule, strict=True))
    assert {("P04", "number-with-text"), ("P04", "number-in-words"),
            ("P03", "thousands-separator"), ("P03", "text-date")} <= planted
    status = pd.read_csv(out / "status.csv", keep_default_na=False).set_index("unit_code")
    assert status.loc["X04", "required_filled"] == 2  # only the prefilled name and code
    assert status.loc["X03", "submission_status"] == "Đang nhập"
    assert status.loc["X03", "completeness"] < 100
    assert status.loc["P05", "completion_date"] > "2023-03-31"  # completed late
    assert len(pd.read_csv(out / "values.csv")) > 2500
    # the data-quality engine: every planted problem shows up, with the new status columns
    assert {("X01", "c2-nam-nu"), ("X02", "b5-giai-quyet-le-tiep-nhan"), ("P05", "completed-late"),
            ("X03", "missing-required"), ("P04", "complete-but-missing"),
            ("X04", "overdue")} <= planted
    assert status.loc["P05", "timeliness"] == "Hoàn thành trễ hạn"
    # typed only its name and code: not started, even five days after the deadline
    assert status.loc["X04", "timeliness"] == "Chưa bắt đầu"
    assert status.loc["X04", "past_deadline"] and status.loc["X04", "days_late"] == 5
    assert status.loc["X02", "timeliness"] == "Hoàn thành đúng hạn"
    assert "completeness_C" in status.columns and "Tình trạng" in output
    reporting = pd.read_csv(out / "reporting.csv").iloc[0]
    assert reporting.units_expected == 9 and 0 < reporting.reporting_rate < 100
    from openpyxl import load_workbook

    book = load_workbook(out / "findings.xlsx", read_only=True)
    assert book.sheetnames[0] == "Tổng hợp" and "X01 Xã Hương Toàn" in book.sheetnames
    # the report and the Prefect artifacts the UI shows, under stable keys
    for name in ("bao-cao.docx", "report.html", "phu-luc.xlsx"):
        assert (out / name).is_file()
    from prefect.artifacts import Artifact

    summary = Artifact.get("giamsat-run-summary")
    assert "66,7%" in summary.data and "bao-cao.docx" in summary.data
    table = json.loads(Artifact.get("giamsat-unit-status").data)
    assert {row["unit_code"]: row["timeliness"] for row in table}["P05"] == "Hoàn thành trễ hạn"


def test_one_broken_commune_never_stops_the_others(config, tmp_path, make_workbook, cli,
                                                   prefect_api):
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    for code in ("P01", "P02"):
        make_workbook(code, folder=source)
    make_workbook("P02", folder=source, name="P02-ban-sao.xlsx")
    (source / "X01-hong.xlsx").write_bytes(b"PK\x03\x04 broken")
    (source / "~$P01.xlsx").write_bytes(b"office lock file")
    output = cli("consolidate", "--source", source, "--out", out, "--no-pdf",
                 "--config", TEST_CONFIG_DIR, code=3).output  # a lost unit: loud
    # the broken file's name says whose it is: X01 is the unit not read, not an unknown file
    assert "2/6" in output and "Không đọc được: X01" in " ".join(output.split())
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    assert set(findings.rule) >= {"unreadable-file", "duplicate-unit", "no-workbook"}
    broken = findings[findings.rule == "unreadable-file"].iloc[0]
    assert (broken.unit_code, broken.source) == ("X01", "X01-hong.xlsx")
    status = pd.read_csv(out / "status.csv", keep_default_na=False).set_index("unit_code")
    assert status.loc["X01", "access"] == "tệp không mở được"
    dup = findings[findings.rule == "duplicate-unit"].iloc[0]
    assert dup.unit_code == "P02" and "P02-ban-sao.xlsx" in dup.message
    values = pd.read_csv(out / "values.csv")
    assert set(values.unit_code) == {"P01", "P02"}
    assert values.groupby("unit_code").size().eq(values.groupby("unit_code").size().max()).all()


def test_a_run_for_two_units_gets_its_own_titled_folder_and_never_replaces_the_towns(
        config, tmp_path, make_workbook, cli, prefect_api):
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    for code in ("P01", "P02", "X02"):
        make_workbook(code, folder=source)
    cli("consolidate", "--source", source, "--out", out, "--no-pdf", "--as-of", "2023-03-31",
        "--config", TEST_CONFIG_DIR, "--reminders", "off", code=0)
    town = (out / "status.csv").read_bytes()
    output = cli("consolidate", "--source", source, "--out", out, "--no-pdf", "--as-of",
                 "2023-03-31", "--units", "p01,X02", "--config", TEST_CONFIG_DIR,
                 "--reminders", "off", code=0).output
    assert (out / "status.csv").read_bytes() == town  # the town's outputs are untouched
    [part] = list((out / "runs").iterdir())
    assert "-subset-P01-X02-" in part.name
    assert "chỉ gồm 2/6 đơn vị: P01, X02" in " ".join(output.split())
    assert list(pd.read_csv(part / "status.csv").unit_code) == ["P01", "X02"]
    from docx import Document

    text = "\n".join(p.text for p in Document(str(part / "bao-cao.docx")).paragraphs)
    assert "(số liệu riêng của 2/6 đơn vị: Phường Tứ Hạ, Xã Bình Tiến)" in text
    assert "Lần tổng hợp này chỉ gồm 2/6 đơn vị" in text
    assert "không phải số liệu của toàn" in text


def test_a_final_report_for_some_units_only_is_refused(config, tmp_path, cli):
    source = tmp_path / "nguon"
    source.mkdir()
    result = cli("consolidate", "--source", source, "--out", tmp_path / "out", "--final",
                 "--units", "P01", "--config", TEST_CONFIG_DIR, code=2)
    said = " ".join(result.output.split())
    assert ("Không lập bản chính thức chỉ cho 1/6 đơn vị (P01): báo cáo chính thức phải tổng "
            "hợp đủ mọi đơn vị.") in said
    assert not (tmp_path / "out" / "final").exists()
    unknown = cli("consolidate", "--source", source, "--out", tmp_path / "out", "--units",
                  "P01,Z99", "--config", TEST_CONFIG_DIR, code=2)
    assert "Không có đơn vị mã “Z99” trong danh sách đơn vị (units.yaml)." in " ".join(
        unknown.output.split())


def test_an_empty_source_folder_says_so_on_screen_and_in_the_report(config, tmp_path, cli,
                                                                    prefect_api):
    source, out = tmp_path / "nguon", tmp_path / "ket-qua"
    source.mkdir()
    result = cli("consolidate", "--source", source, "--out", out, "--no-pdf", "--as-of",
                 "2023-04-05", "--config", TEST_CONFIG_DIR, "--reminders", "off", code=3)
    said = " ".join(result.output.split())
    assert f"Chưa nhận được bảng tính nào: nguồn “{source}” không có tệp bảng tính nào." in said
    findings = pd.read_csv(out / "findings.csv", keep_default_na=False)
    assert "source-empty" in set(findings.rule)
    from docx import Document

    text = "\n".join(p.text for p in Document(str(out / "bao-cao.docx")).paragraphs)
    assert "chưa nhận được bảng tính nào của 6 đơn vị" in text
