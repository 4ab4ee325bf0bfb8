"""A loopback emulator of the Google Sheets v4 and Drive v3 APIs, for tests, benchmarks and
trying the Google source without a Google account (`giamsat google-emulator`)."""

from flows.testing.google_emulator.server import GoogleEmulator, run_standalone

__all__ = ["GoogleEmulator", "run_standalone"]
