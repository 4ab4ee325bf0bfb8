"""gspread transport that talks to another endpoint (the loopback emulator) unchanged.

gspread imports its URL constants by name, so the only reliable switch is the HTTP client:
:class:`EndpointHTTPClient` rewrites the Google hosts to ``endpoint`` inside ``request()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from google.auth.credentials import Credentials
from gspread.http_client import FileType, HTTPClient, ParamsType
from requests import Response, Session

GOOGLE_PREFIXES = ("https://sheets.googleapis.com", "https://www.googleapis.com")


class EndpointHTTPClient(HTTPClient):
    """A gspread ``HTTPClient`` sending every Sheets/Drive call to ``endpoint``."""

    def __init__(self, auth: Credentials, session: Session | None = None, *,
                 endpoint: str) -> None:
        super().__init__(auth, session)
        self.endpoint = endpoint.rstrip("/")

    @classmethod
    def factory(cls, endpoint: str) -> Callable[[Credentials, Session | None], EndpointHTTPClient]:
        """A callable to pass as ``gspread.Client(auth, http_client=...)``."""

        def build(auth: Credentials, session: Session | None = None) -> EndpointHTTPClient:
            return cls(auth, session, endpoint=endpoint)

        return build

    def rewrite(self, url: str) -> str:
        """Swap a Google API host for the endpoint; other URLs pass unchanged."""
        for prefix in GOOGLE_PREFIXES:
            if url.startswith(prefix):
                return self.endpoint + url[len(prefix):]
        return url

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: FileType = None,
        headers: MutableMapping[str, str] | None = None,
    ) -> Response:
        return super().request(method, self.rewrite(endpoint), params=params, data=data,
                               json=json, files=files, headers=headers)
