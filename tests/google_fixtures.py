"""Pytest helpers for the Google API emulator: a fresh emulator and an unmodified gspread client."""

from __future__ import annotations

from collections.abc import Iterator

import gspread
import pytest
from google.oauth2.credentials import Credentials

from flows.sources.google.transport import EndpointHTTPClient
from flows.testing.google_emulator import GoogleEmulator


@pytest.fixture
def google_emulator() -> Iterator[GoogleEmulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with GoogleEmulator() as emulator:
        yield emulator


def gspread_client(emulator: GoogleEmulator, token: str = "test") -> gspread.Client:
    """A stock ``gspread.Client`` whose HTTP client sends everything to the emulator."""
    credentials = Credentials(token=token)
    return gspread.Client(credentials, http_client=EndpointHTTPClient.factory(emulator.url))
