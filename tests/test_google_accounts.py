"""Several Google accounts: which units each one reads, and what google.yaml must say."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from helpers import TEST_CONFIG_DIR

from flows.config import ConfigError, load_config
from flows.sources.google.accounts import assign

ACCOUNTS = [f"doc-{n}@giamsat.iam.example.com" for n in (1, 2, 3)]
CODES = [f"{n:05d}" for n in range(3321)]  # a nation's communes


def test_a_nation_is_spread_evenly_over_three_accounts():
    counts = Counter(assign(CODES, ACCOUNTS).values())
    assert set(counts) == set(ACCOUNTS)
    assert max(counts.values()) - min(counts.values()) < 0.1 * len(CODES) / 3


def test_a_new_commune_moves_no_other_and_a_new_account_takes_only_its_share():
    before = assign(CODES, ACCOUNTS[:2])
    grown = assign([*CODES, "99999"], ACCOUNTS[:2])
    assert {c: grown[c] for c in CODES} == before  # the commune added moved nobody
    third = assign(CODES, ACCOUNTS)
    moved = [c for c in CODES if third[c] != before[c]]
    assert all(third[c] == ACCOUNTS[2] for c in moved)  # only to the new account
    assert 0.25 * len(CODES) < len(moved) < 0.42 * len(CODES)  # about a third


def test_the_assignment_does_not_depend_on_the_order_or_case_of_the_addresses():
    assert assign(CODES[:50], ACCOUNTS) == assign(CODES[:50], ACCOUNTS[::-1])
    upper = [a.upper() for a in ACCOUNTS]
    assert [ACCOUNTS.index(a) for a in assign(CODES[:50], ACCOUNTS).values()] == \
        [upper.index(a) for a in assign(CODES[:50], upper).values()]


def key(folder, name: str, **fields) -> str:
    (folder / name).write_text(json.dumps({"type": "authorized_user", "client_id": "x",
                                           "client_secret": "x", "refresh_token": "x",
                                           **fields}), encoding="utf-8")
    return name


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "config"
    shutil.copytree(TEST_CONFIG_DIR, folder)
    return folder


def problems(folder, google_yaml: str) -> list[str]:
    (folder / "google.yaml").write_text('folder_id: "abc"\n' + google_yaml, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(folder, need=["google"])
    return raised.value.problems


def test_several_accounts_each_need_a_key_that_names_its_address(config_dir, monkeypatch):
    monkeypatch.delenv("GIAMSAT_GOOGLE_ENDPOINT", raising=False)
    key(config_dir, "a.json", account_email="a@x.vn")
    key(config_dir, "b.json")  # a user token that does not say whose it is
    found = problems(config_dir, "accounts:\n  - credentials: a.json\n  - credentials: b.json\n"
                                 "  - credentials: c.json\n")
    assert found == [
        "google.yaml: accounts[2]: account_email: tệp "
        f"{(config_dir / 'b.json').resolve()} không ghi địa chỉ email của tài khoản; ghi "
        "account_email để chia đơn vị cho các tài khoản.",
        "google.yaml: accounts[3]: credentials: không đọc được tệp khoá "
        f"{(config_dir / 'c.json').resolve()} (cần tệp JSON tải từ Google Cloud).",
    ]


def test_the_same_account_twice_and_both_ways_of_naming_accounts_are_refused(config_dir):
    key(config_dir, "a.json", account_email="a@x.vn")
    key(config_dir, "a2.json", account_email="A@x.vn")
    found = problems(config_dir, "accounts:\n  - credentials: a.json\n  - credentials: a2.json\n")
    assert found == ["google.yaml: accounts[2]: tài khoản A@x.vn đã có ở trên; mỗi tài khoản "
                     "chỉ ghi một lần."]
    found = problems(config_dir, "credentials: a.json\naccounts:\n  - credentials: a2.json\n")
    assert len(found) == 1 and "không ghi cả hai" in found[0]


def test_the_nation_benchmark_reads_every_sheet_within_each_account_quota(monkeypatch):
    from flows.sources.google.client import ENDPOINT_ENV
    from flows.testing.bench.scale_google import google_figures

    monkeypatch.setenv(ENDPOINT_ENV, "")  # the benchmark points it at its own emulator
    head, first, changed = google_figures(130, 2)
    assert head.startswith("Google: 130 sheets over 2 account(s)")
    assert first.startswith("  first night: 130 reads (130 sheets, 1 listing pages)")
    assert changed.startswith("  10% changed: 13 reads (13 sheets")
    for line in (first, changed):
        assert line.endswith("429s 0, sheets lost 0 of 130")
    busiest = int(first.split("busiest account minute ")[1].split()[0])
    assert busiest <= 60
