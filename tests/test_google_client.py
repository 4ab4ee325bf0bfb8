"""The Google client on its own: settings, credentials, the rate limiter and bounded retries."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2.credentials import Credentials
from helpers import TEST_CONFIG_DIR

from flows.config import DEFAULT_CONFIG_DIR, ConfigError
from flows.sources.google.client import (
    CREDENTIALS_ENV,
    DRIVE_URL,
    ENDPOINT_ENV,
    PLACEHOLDER_TOKEN,
    PROVISION_SCOPES,
    PULL_SCOPES,
    GoogleApi,
    GoogleError,
    GoogleSettings,
    RateLimiter,
    Timing,
    account_email,
    backoff_delay,
    load_credentials,
    load_google_settings,
)
from flows.testing.google_emulator import GoogleEmulator


class FakeTime:
    """A clock that only moves when someone sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def timing(self) -> Timing:
        return Timing(self.clock, self.sleep, lambda: 0.5)


def settings(**overrides) -> GoogleSettings:
    return GoogleSettings(folder_id="folder", **overrides)


def api_for(emulator: GoogleEmulator, fake: FakeTime) -> GoogleApi:
    return GoogleApi(Credentials(token="test"), settings(), fake.timing(), emulator.url)


def test_rate_limiter_keeps_every_minute_under_budget_and_150_reads_take_two_minutes():
    fake = FakeTime()
    limiter = RateLimiter(60, fake.timing(), margin=1.0)
    times = []
    for _ in range(150):
        limiter.acquire()
        times.append(fake.now)
    for i, start in enumerate(times):  # no 60-second window holds more than 60 requests
        assert sum(1 for t in times[i:] if t < start + 60) <= 60
    assert times[59] == 0 and times[60] == 61 and times[120] == 122
    assert times[-1] / 60 < 2.1  # 150 sheets at 60/min: 2.03 min of waiting, not 2.5


def test_backoff_is_truncated_exponential_with_jitter():
    delays = [backoff_delay(n, 32, lambda: 0.25) for n in range(8)]
    assert delays == [1.25, 2.25, 4.25, 8.25, 16.25, 32, 32, 32]


def test_faults_are_retried_a_bounded_number_of_times(google_emulator):
    fake = FakeTime()
    api = api_for(google_emulator, fake)
    google_emulator.fault_rate = 1.0
    with pytest.raises(GoogleError) as failed:
        api.list_files("trashed = false")
    attempts = settings().retry.attempts
    assert failed.value.attempts == attempts
    assert google_emulator.counts["drive.files.list"] == attempts
    assert fake.sleeps == [backoff_delay(n, 32, lambda: 0.5) for n in range(attempts - 1)]

    google_emulator.fault_rate = 0.5  # seeded: some attempts fail, the call succeeds
    assert api.list_files("trashed = false") == []
    assert api.stats.calls["retry"] > 0


def test_a_lost_copy_is_looked_for_before_it_is_retried(google_emulator):
    api = api_for(google_emulator, FakeTime())
    source = google_emulator.create_spreadsheet("Mẫu")
    google_emulator.fault_rate = 1.0
    found = {"id": "copy-made-before-the-answer-was-lost"}
    assert api.copy_file(source, "Bản sao", "folder", recover=lambda: found) == found
    assert google_emulator.counts["drive.files.copy"] == 1


def test_client_errors_are_not_retried(google_emulator):
    api = api_for(google_emulator, FakeTime())
    with pytest.raises(GoogleError) as missing:
        api.call("drive", "get", f"{DRIVE_URL}/does-not-exist")
    assert missing.value.status == 404 and missing.value.gone and missing.value.attempts == 1


def test_an_endpoint_alone_uses_a_placeholder_token(monkeypatch):
    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")
    assert load_credentials(settings(), PULL_SCOPES).token == PLACEHOLDER_TOKEN
    monkeypatch.delenv(ENDPOINT_ENV)
    with pytest.raises(ConfigError) as missing:
        load_credentials(settings(), PULL_SCOPES)
    assert CREDENTIALS_ENV in missing.value.problems[0]


def test_a_service_account_key_is_scoped_and_never_echoed(tmp_path, monkeypatch):
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "key.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "1",
        "private_key": pem, "client_email": "giamsat@p.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))
    monkeypatch.setenv(CREDENTIALS_ENV, str(path))
    credentials = load_credentials(settings(), PROVISION_SCOPES)
    assert tuple(credentials.scopes) == PROVISION_SCOPES
    assert account_email(settings(), credentials) == "giamsat@p.iam.gserviceaccount.com"
    path.write_text('{"type": "something", "private_key": "SECRET"}')
    with pytest.raises(ConfigError) as wrong:
        load_credentials(settings(), PULL_SCOPES)
    assert "SECRET" not in str(wrong.value) and "key.json" in str(wrong.value)


def test_google_yaml_mistakes_name_the_file_the_key_and_what_is_expected(tmp_path):
    (tmp_path / "google.yaml").write_text(
        "quota:\n  reads_per_minute: 0\nsharing:\n  role: owner\nfolder: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as bad:
        load_google_settings(tmp_path)
    problems = bad.value.problems
    assert "google.yaml: folder_id: thiếu khoá bắt buộc" in problems
    assert any(p.startswith("google.yaml: quota.reads_per_minute:") for p in problems)
    assert any(p.startswith("google.yaml: sharing.role:") for p in problems)
    assert any(p.startswith("google.yaml: folder: khoá không được biết đến") for p in problems)


def test_relative_paths_in_google_yaml_are_taken_from_the_config_folder(tmp_path):
    (tmp_path / "google.yaml").write_text('folder_id: "F"\nstate_dir: ../state\n',
                                          encoding="utf-8")
    loaded = load_google_settings(tmp_path)
    assert loaded.state_dir == (tmp_path.parent / "state").resolve()
    assert loaded.registry == loaded.state_dir / "registry.json"


@pytest.mark.shipped
def test_the_shipped_google_yaml_is_valid():
    shipped = load_google_settings(DEFAULT_CONFIG_DIR)
    assert shipped.quota.reads_per_minute == 60 and shipped.names.sheet.startswith("{unit_code}")


def test_the_test_config_google_yaml_is_valid():
    own = load_google_settings(TEST_CONFIG_DIR)
    assert own.quota.reads_per_minute == 60 and own.names.sheet.startswith("{unit_code}")
    assert own.state_dir == (TEST_CONFIG_DIR.parent / "state" / "google").resolve()



@pytest.mark.parametrize("quota_wait, succeeds", [(120, True), (0, False)])
def test_quota_refusals_mean_wait_and_are_retried_beyond_the_attempt_count(quota_wait, succeeds):
    """Google's 429 refills within a minute: a run waits for it instead of losing the sheet."""
    from flows.sources.google.client import SHEETS_URL

    fake = FakeTime()
    with GoogleEmulator(read_quota_per_minute=1, clock=fake.clock) as emulator:
        sheet = emulator.create_spreadsheet("Biểu", sheets=["Trang 1"])
        api = GoogleApi(Credentials(token="test"),
                        settings(retry={"attempts": 2, "quota_wait_seconds": quota_wait}),
                        fake.timing(), emulator.url)
        api.limits["read"].per_minute = 100  # our budget above Google's: Google says 429
        url = f"{SHEETS_URL}/{sheet}/values/A1"
        api.call("read", "get", url)
        if succeeds:
            api.call("read", "get", url)
            assert emulator.counts["429"] > 1 and sum(fake.sleeps) >= 60
        else:
            with pytest.raises(GoogleError) as refused:
                api.call("read", "get", url)
            assert refused.value.status == 429 and refused.value.attempts == 2
