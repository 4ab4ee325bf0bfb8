"""Several Google accounts, each with its own quota, and which units each one reads.

Google's Sheets quota is per account (60 reads a minute) as well as per project: 3,321
sheets on one account need 55 minutes or more. With several accounts in `google.yaml`
(`accounts:`) each unit's sheet is read and written with one of them, chosen by rendezvous
hashing of the unit's code against each account's e-mail: the choice depends only on the two,
so adding a unit moves no other, and adding an account moves only the units it wins (about
one in N). The first account lists the folder, creates the files and writes the dashboard.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from flows.config.google import GoogleSettings
from flows.sources.google.client import (
    GoogleApi,
    LimiterFactory,
    Timing,
    open_api,
    project_limiters,
)


def _weight(email: str, code: str) -> int:
    digest = hashlib.sha256(f"{email.lower()}\n{code}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def assign(codes: Iterable[str], emails: list[str]) -> dict[str, str]:
    """unit code → the e-mail of the account that reads and writes its sheet."""
    if not emails:
        raise ValueError("no account")
    if len(emails) == 1:
        return {code: emails[0] for code in codes}
    return {code: max(emails, key=lambda email: _weight(email, code)) for code in codes}


@dataclass
class Accounts:
    """The clients of every configured account; the first one is the main account."""

    apis: list[GoogleApi]

    @classmethod
    def open(cls, settings: GoogleSettings, scopes: tuple[str, ...],
             timing: Timing | None = None, limiters: LimiterFactory | None = None) -> Accounts:
        # one project budget for all: the accounts belong to one Google Cloud project
        project = project_limiters(settings, timing, limiters)
        return cls([open_api(settings, scopes, timing, account, limiters, project)
                    for account in settings.account_list()])

    @property
    def main(self) -> GoogleApi:
        return self.apis[0]

    @property
    def emails(self) -> list[str]:
        """Every account's address that is known (all of them when there are several)."""
        return [api.email for api in self.apis if api.email]

    def for_unit(self, code: str) -> GoogleApi:
        """The client that reads and writes `code`'s sheet."""
        if len(self.apis) == 1:
            return self.apis[0]
        email = assign([code], [api.email or "" for api in self.apis])[code]
        return next(api for api in self.apis if api.email == email)

    def calls(self) -> Counter[str]:
        """Every account's calls added up, by kind."""
        total: Counter[str] = Counter()
        for api in self.apis:
            total.update(api.stats.calls)
        return total


__all__ = ["Accounts", "assign"]
