"""Personal data caught at the cell: a child's name, age, phone, ID or address typed into a
free-text cell is an error at that cell naming what kind was found, never the text; official
names (units, the signer, offices, laws and documents) are not people; the text is withheld
from the tables written from the checks.

Two hand-made corpora (tests/corpora/): identifying sentences, ≥ 95% caught (the misses are
printed), and official sentences that look risky, none caught; and every text of the demo and
of the shipped config, none caught.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import answers_for
from helpers import TEST_CONFIG_DIR

from flows.config import ConfigError, load_config
from flows.config.privacy import PRIVACY_FILE
from flows.config.workspace import shipped_templates
from flows.core.completeness import cell_kind
from flows.core.consolidate import check, consolidate, summarise
from flows.core.extract import extract_workbook
from flows.core.findings import Finding, findings_frame
from flows.core.layout import make_key
from flows.core.privacy import RULE, kinds_found, personal_data, withhold
from flows.core.review import review_period
from flows.demo import build_workspace, demo_answers
from flows.sources.xlsx import read_workbook
from flows.store.history import History
from flows.store.review import ReviewStore

CORPORA = Path(__file__).resolve().parent / "corpora"
CATCH_RATE = 0.95
NAME, PHONE = "Nguyễn Văn An", "0905 123 456"


def corpus(name: str) -> list[str]:
    lines = (CORPORA / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def caught(texts: list[str], config) -> pd.Series:
    return kinds_found(pd.Series(texts, dtype=object), config.privacy)


def strings(data) -> list[str]:
    """Every string (keys too) of a parsed YAML document."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in strings(k) + strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


# --------------------------------------------------------------------------- the corpora


@pytest.fixture(params=["test", "shipped"])
def either_config(request, config, shipped_config):
    """The corpora hold for the tests' copy of privacy.yaml and for the shipped one."""
    return config if request.param == "test" else shipped_config


def test_identifying_sentences_are_caught(either_config):
    sentences = corpus("personal-data")
    assert len(sentences) >= 40
    kinds = caught(sentences, either_config)
    missed = [s for s, k in zip(sentences, kinds, strict=True) if not k]
    rate = 1 - len(missed) / len(sentences)
    shown = "".join(f"\n  {sentence}" for sentence in missed)
    print(f"\ncaught {len(sentences) - len(missed)}/{len(sentences)} ({rate:.1%}); "  # noqa: T201
          f"missed:{shown or ' none'}")
    assert rate >= CATCH_RATE, missed


def test_official_sentences_that_look_risky_are_not_caught(either_config):
    sentences = corpus("official")
    kinds = caught(sentences, either_config)
    tripped = {s: k for s, k in zip(sentences, kinds, strict=True) if k}
    assert tripped == {}


def test_each_kind_is_named_for_what_it_is(config):
    kinds = caught(["Cháu Nguyễn Văn B., 12 tuổi, thôn 3", "Số CCCD 046180012345",
                    "Em Trần Thị Mai sinh ngày 03/05/2011, điện thoại 0914.567.890"], config)
    assert list(kinds) == [["họ tên", "tuổi", "địa chỉ nhà"],
                           ["số căn cước hoặc chứng minh nhân dân"],
                           ["họ tên", "ngày sinh", "số điện thoại"]]


def test_the_deployments_own_names_are_not_people(config):
    """Units, the region, the report's signer and the office's phone (reminders.yaml) are set
    aside: a name of the signer's shape is caught, the signer's own is not."""
    signer = config.plan.report.signer.name
    office_phone = "0234 3000 000"  # tests/config/reminders.yaml's contact line
    assert signer == "Trần Thị B" and caught(["Trần Thị C ký"], config)[0] == ["họ tên"]
    texts = [f"Văn bản do đồng chí {signer} ký ban hành.",
             f"Liên hệ Phòng qua số {office_phone}.",
             *[f"Tuyên truyền tại {u.full_name} và {u.name}." for u in config.units.units],
             f"Kế hoạch của {config.units.region.name}, {config.units.region.province}."]
    assert list(caught(texts, config)) == [[]] * len(texts)


@pytest.mark.shipped
@pytest.mark.parametrize("seed", [2023, 1, 2, 3])
def test_no_text_of_the_demo_answers_is_caught(shipped_config, shipped_layout, seed):
    """Every text the demo types (free text, document titles and numbers, unit names), but the
    reporter's own name and phone, which are not screened."""
    answers, _ = demo_answers(shipped_config, seed)
    contact = {c.key for c in shipped_layout.inputs if cell_kind(c) == "contact"}
    texts = [v for typed in answers.values() for k, v in typed.items()
             if isinstance(v, str) and k not in contact]
    kinds = caught(texts, shipped_config)
    assert {t: k for t, k in zip(texts, kinds, strict=True) if k} == {}


@pytest.mark.shipped
def test_no_text_of_the_shipped_config_and_templates_is_caught(shipped_config):
    """Labels, titles, notes, instructions, choices, rule messages, report wording and the
    catalogue's messages: the form's own words are not personal data."""
    files = [p for p in sorted(Path(shipped_config.directory).glob("*.yaml"))
             if p.name != PRIVACY_FILE] + sorted(shipped_templates().glob("*.yaml"))
    texts = [s for p in files for s in strings(yaml.safe_load(p.read_text(encoding="utf-8")))]
    assert len(texts) > 1000
    kinds = caught(texts, shipped_config)
    assert {t: k for t, k in zip(texts, kinds, strict=True) if k} == {}


@pytest.mark.slow
@pytest.mark.shipped
def test_no_text_of_the_demo_workbooks_is_caught_and_the_demo_has_no_finding(
        shipped_config, shipped_layout, tmp_path):
    """Every string cell of every demo workbook (labels, hidden keys, answers), but the
    reporter's name and phone; and the demo's run raises no personal-data finding."""
    build_workspace(shipped_config, tmp_path, 2023)
    answers, _ = demo_answers(shipped_config, 2023)
    contact = {c.key for c in shipped_layout.inputs if cell_kind(c) == "contact"}
    theirs = {v for typed in answers.values() for k, v in typed.items() if k in contact}
    raws = [read_workbook(p) for p in sorted((tmp_path / "nguon").glob("*.xlsx"))]
    texts = sorted({v for raw in raws for sheet in raw.sheets for row in sheet.rows for v in row
                    if isinstance(v, str) and v not in theirs})
    assert len(texts) > 400
    kinds = caught(texts, shipped_config)
    assert {t: k for t, k in zip(texts, kinds, strict=True) if k} == {}
    units = shipped_config.units.by_code()
    result = consolidate([extract_workbook(raw, shipped_layout, units) for raw in raws],
                         shipped_config, shipped_layout, date(2023, 4, 5), shipped_config.rules)
    assert RULE not in set(result.findings.rule)


# --------------------------------------------------------------------------- the story


def test_a_childs_name_and_phone_typed_in_a_free_text_cell(config, layout, make_workbook):
    """A commune writes a child's name and its mother's phone into "Khó khăn, vướng mắc" and a
    name into a document title: one error at each cell, naming the kinds; neither the name nor
    the number in any field of the findings, and the text withheld from the tables."""
    typed = answers_for(config, "P01")
    typed[make_key("D3")] = f"- Cháu {NAME} bị bạo lực; mẹ cháu: {PHONE}."
    typed[make_key("A.VB", "1,trich_yeu")] = f"Quyết định hỗ trợ em {NAME}"
    extraction = extract_workbook(read_workbook(make_workbook("P01", typed)), layout,
                                  config.units.by_code())
    result = consolidate([extraction], config, layout, date(2023, 4, 5), config.rules)
    found = result.findings[result.findings.rule == RULE]
    d3 = layout.by_key[make_key("D3")]
    title = layout.by_key[make_key("A.VB", "1,trich_yeu")]
    assert sorted(zip(found.sheet, found.cell, found.indicator, strict=True)) == sorted(
        [(d3.sheet, d3.cell, "D3"), (title.sheet, title.cell, "A.VB")])
    assert set(found.severity) == {"error"} and set(found.category) == {"privacy"}
    [message] = found[found.indicator == "D3"].message
    assert message == ("Ô này có thể chứa thông tin cá nhân của trẻ em hoặc người thân (họ tên, "
                       "số điện thoại); nội dung ô đã được ẩn trong các tệp tổng hợp.")
    assert set(found.value) == {""}
    for table in (result.findings, result.values, result.lists):
        shown = table.astype(str).to_csv()
        assert NAME not in shown and PHONE not in shown and "0905" not in shown
    mask = config.privacy.mask
    assert list(result.values.loc[result.values.indicator == "D3", "value"]) == [mask]
    assert list(result.lists.loc[(result.lists.column == "trich_yeu")
                                 & (result.lists.row == 1), "value"]) == [mask]
    # the unit's other text and its reporter (a name, a phone) are kept
    assert result.values.loc[result.values.indicator == "D1", "value"].iloc[0] != mask
    assert result.values.loc[result.values.indicator == "TT.3", "value"].iloc[0] != mask


def test_one_finding_per_cell_whatever_the_number_of_kinds(config, layout):
    values = pd.DataFrame({
        "unit_code": ["P01", "P01", "P02"], "indicator": ["D2", "D4", "D2"],
        "breakdown": ["", "", ""], "year": pd.array([None, None, None], dtype="Int64"),
        "value": [f"Em {NAME}, 12 tuổi, thôn 3, gọi {PHONE}", "Đề nghị tập huấn",
                  "Họp ngày 12/3/2023 theo Kế hoạch 12/KH-UBND"],
        "sheet": ["D. Đánh giá, đề xuất"] * 3, "cell": ["E6", "E9", "E6"]})
    positions = [layout.inputs.index(layout.by_key[make_key(i)]) for i in values.indicator]
    lists = pd.DataFrame(columns=["unit_code", "list", "row", "column", "value", "sheet", "cell"])
    found, in_values, in_lists = personal_data(values, pd.Series(positions).to_numpy(), lists,
                                               layout, config.privacy, {"P01": "Phường Tứ Hạ"})
    assert [(f.unit_code, f.indicator, f.cell) for f in found] == [("P01", "D2", "E6")]
    assert found[0].params["kinds"] == ["họ tên", "tuổi", "số điện thoại", "địa chỉ nhà"]
    assert found[0].value == "" and found[0].unit_name == "Phường Tứ Hạ"
    assert list(in_values) == [True, False, False] and len(in_lists) == 0


def test_only_free_text_cells_are_screened(config, layout):
    """The reporter's name and phone, the unit's name and every number or choice are not."""
    keys = [make_key("TT.3"), make_key("TT.5"), make_key("TT.1"), make_key("D1")]
    values = pd.DataFrame({
        "unit_code": ["P01"] * 4, "indicator": ["TT.3", "TT.5", "TT.1", "D1"],
        "breakdown": [""] * 4, "year": pd.array([None] * 4, dtype="Int64"),
        "value": [NAME, PHONE, "Phường Tứ Hạ", f"Cháu {NAME}"],
        "sheet": ["x"] * 4, "cell": ["E5", "E7", "E3", "E6"]})
    positions = pd.Series([layout.inputs.index(layout.by_key[k]) for k in keys]).to_numpy()
    lists = pd.DataFrame(columns=["unit_code", "list", "row", "column", "value", "sheet", "cell"])
    found, _, _ = personal_data(values, positions, lists, layout, config.privacy, {})
    assert [f.indicator for f in found] == ["D1"]


# --------------------------------------------------------------------------- withheld


def test_withheld_text_is_masked_in_the_tables_and_in_the_findings_quoting_it(config):
    mask = config.privacy.mask
    values = pd.DataFrame({"unit_code": ["P01", "P01"], "indicator": ["D2", "D4"],
                           "value": [f"Cháu {NAME} ", "Đề nghị tập huấn"]})
    lists = pd.DataFrame({"unit_code": ["P01"], "list": ["A.VB"], "row": [1],
                          "column": ["trich_yeu"], "value": [f"Hỗ trợ em {NAME}"]})
    key, title = make_key("D2"), make_key("A.VB", "1,trich_yeu")
    findings = [
        Finding("whitespace", {"typed": f"Cháu {NAME} "}, unit_code="P01", value=f"Cháu {NAME} ",
                key=key),
        Finding("whitespace", {"typed": "Đề nghị "}, unit_code="P01", value="Đề nghị ",
                key=make_key("D4")),
        Finding(RULE, {"kinds": ["họ tên"]}, unit_code="P01", key=key),
        Finding(RULE, {"kinds": ["họ tên"]}, unit_code="P01", key=title)]
    values2, lists2, findings2 = withhold(values, lists, findings, [True, False], [True], mask)
    assert list(values2.value) == [mask, "Đề nghị tập huấn"]
    assert list(lists2.value) == [mask]
    assert list(values.value)[0] != mask  # the caller's tables are not changed
    assert findings2[0].value == mask and findings2[0].params == {"typed": mask}
    assert findings2[1] == findings[1] and findings2[2:] == findings[2:]
    shown = findings_frame(findings2, config.catalogue).to_csv()
    assert NAME not in shown
    assert "[đã ẩn thông tin cá nhân]" in shown


def test_a_text_the_office_marked_not_an_error_is_used_as_typed(config, layout, make_workbook):
    """The office decides that "chị Mai, cán bộ Hội Phụ nữ" names a member of staff, not a
    child (`--false-positive`): from the next run on that cell's text is used as typed, its
    finding still fires (its state stays the office's), and every other cell stays withheld."""
    staff = "Phối hợp với chị Mai, cán bộ Hội Phụ nữ"
    typed = answers_for(config, "P01")
    typed[make_key("D3")] = f"Cháu {NAME} bị bạo lực"
    typed[make_key("D4")] = staff
    extraction = extract_workbook(read_workbook(make_workbook("P01", typed)), layout,
                                  config.units.by_code())
    day, mask = date(2023, 4, 5), config.privacy.mask

    def run(released=()):
        result = summarise(check([extraction], config, layout, day, config.rules, released),
                           config, day)
        values = result.values.set_index("indicator")["value"]
        found = result.findings[result.findings.rule == RULE].set_index("indicator")
        return values, found

    values, found = run()
    assert (values["D3"], values["D4"]) == (mask, mask)
    values, again = run(released={found.loc["D4", "finding_id"]})
    assert (values["D3"], values["D4"]) == (mask, staff)
    assert list(again.finding_id) == list(found.finding_id)  # both still fire, same ids


def test_an_answer_with_personal_data_is_not_taken(config, nights):
    """A commune answers a warning in its results tab with a child's name and hamlet: the
    answer is not recorded (the warning stays `mới`, no explanation), an error at that row of
    the tab says why without the text, and the name is nowhere in the history; once it writes
    the answer again without them, the answer is taken and the error is fixed."""
    from helpers import set_cells, stored_texts

    from flows.core.privacy import EXPLANATION_RULE
    from flows.core.results_tab import TITLE

    tab = "B. Bảo đảm quyền trẻ em"
    typed = {**answers_for(config, "P01"), "B1.1||2021": "1.234"}  # a warning, at E9

    def answered(text: str):
        return lambda code, path: set_cells(path, TITLE, {"B5": tab, "C5": "E9", "E5": text})

    def at(day: int):
        return datetime(2023, 3, day, 1, tzinfo=config.plan.tz)

    nights("r1", at(20), {"P01": typed})
    second = nights("r2", at(21), {"P01": typed},
                    answered(f"Số liệu đúng: cháu {NAME} ở thôn 3 mới chuyển đến"))
    found = second.findings[second.findings.unit_code == "P01"].set_index("rule")
    assert (found.loc["thousands-separator", "state"],
            found.loc["thousands-separator", "explanation"]) == ("mới", "")
    said = found.loc[EXPLANATION_RULE]
    assert (said["sheet"], said["cell"], said["severity"], said["state"]) == (
        TITLE, "E5", "error", "mới")
    assert said["message"] == (
        "Giải trình ghi ở dòng 5 của trang này có thể chứa thông tin cá nhân của trẻ em hoặc "
        "người thân (họ tên, địa chỉ nhà) nên không được ghi nhận.")
    assert second.status.set_index("unit_code").loc["P01", "errors"] >= 1
    stored = stored_texts(nights.state)  # the history database, every table
    assert any(said["finding_id"] in text for text in stored.values())
    assert not [place for place, text in stored.items() if NAME in text or "thôn 3" in text]

    third = nights("r3", at(22), {"P01": typed}, answered("Số liệu đúng, có thêm một lớp học"))
    found = third.findings[third.findings.unit_code == "P01"].set_index("rule")
    assert found.loc["thousands-separator", "state"] == "đã giải trình"
    assert EXPLANATION_RULE not in found.index
    with History(folder=nights.state) as history:
        states = ReviewStore(history, review_period(config)).finding_states("P01")
    assert [s.state for s in states.values() if s.rule == EXPLANATION_RULE] == ["fixed"]


# --------------------------------------------------------------------------- config


@pytest.fixture
def privacy_config(tmp_path) -> Path:
    shutil.copytree(TEST_CONFIG_DIR, tmp_path / "config")
    return tmp_path / "config"


def test_a_broken_pattern_or_an_unknown_list_is_a_config_error_naming_its_key(privacy_config):
    path = privacy_config / PRIVACY_FILE
    text = path.read_text(encoding="utf-8")
    text = text.replace("  phone:\n", "  phone:\n    - '(?:0905'\n", 1)
    text = text.replace("  age:\n", "  age:\n    - '{ho_ten} \\d+ tuổi'\n", 1)
    text = text.replace("  address: địa chỉ nhà\n", "", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(privacy_config)
    shown = "\n".join(error.value.problems)
    assert "privacy.yaml: patterns.phone[0]: mẫu tìm kiếm không hợp lệ" in shown
    assert "privacy.yaml: patterns.age[0]: không có danh sách từ 'ho_ten'" in shown
    assert "privacy.yaml: patterns.address: loại 'address' không có trong kinds" in shown


def test_a_typo_in_privacy_yaml_is_named_with_its_key(privacy_config):
    path = privacy_config / PRIVACY_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("mask:", "masks:", 1),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(privacy_config)
    shown = "\n".join(error.value.problems)
    assert "privacy.yaml: masks: khoá không được biết đến" in shown
    assert "privacy.yaml: mask: thiếu khoá bắt buộc" in shown


def test_a_deployment_made_before_privacy_yaml_is_screened_with_the_shipped_patterns(
        privacy_config):
    (privacy_config / PRIVACY_FILE).unlink()
    config = load_config(privacy_config)
    assert config.privacy is not None
    assert caught([f"Cháu {NAME}, 12 tuổi"], config)[0] == ["họ tên", "tuổi"]
    # …with this deployment's own signer set aside
    assert caught([f"Đồng chí {config.plan.report.signer.name} ký"], config)[0] == []
