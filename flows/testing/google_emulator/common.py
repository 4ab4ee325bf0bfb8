"""Shared pieces of the Google API emulator: error bodies in Google's shape and field masks."""

from __future__ import annotations

import copy
import json
from typing import Any

JSON = dict[str, Any]
# A parsed field mask: each key maps to its sub-mask, or None for "the whole value".
FieldTree = dict[str, "FieldTree | None"]


class ApiError(Exception):
    """An HTTP error answer: status code plus the JSON body Google would send."""

    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(body.get("error", {}).get("message", str(status)))
        self.status = status
        self.body = body


# --- Sheets API errors (google.rpc.Status shape) -------------------------------------------


def sheets_error(
    code: int, message: str, status: str, details: list[JSON] | None = None
) -> ApiError:
    """An error in the Sheets v4 shape: ``{"error": {code, message, status[, details]}}``."""
    error: JSON = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return ApiError(code, {"error": error})


def sheets_not_found() -> ApiError:
    """404 for a spreadsheet that does not exist (or was deleted / trashed)."""
    return sheets_error(404, "Requested entity was not found.", "NOT_FOUND")


def sheets_permission_denied(message: str = "The caller does not have permission") -> ApiError:
    """403 for a caller without the needed role on the spreadsheet."""
    return sheets_error(403, message, "PERMISSION_DENIED")


def sheets_invalid(message: str) -> ApiError:
    """400 INVALID_ARGUMENT without details (range and batchUpdate errors)."""
    return sheets_error(400, message, "INVALID_ARGUMENT")


def sheets_field_violation(message: str, field: str) -> ApiError:
    """400 INVALID_ARGUMENT carrying a ``google.rpc.BadRequest`` field violation."""
    detail = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": field, "description": message}],
    }
    return sheets_error(400, message, "INVALID_ARGUMENT", [detail])


def invalid_list_value(field: str, value: Any) -> ApiError:
    """The error Google gives when a ``values`` field is not a JSON list."""
    shown = json.dumps(value, ensure_ascii=False)
    message = f"Invalid value at '{field}' (type.googleapis.com/google.protobuf.ListValue), {shown}"
    return sheets_field_violation(message, field)


def unable_to_parse_range(text: str) -> ApiError:
    """400 for a range naming an unknown sheet or malformed A1 notation."""
    return sheets_invalid(f"Unable to parse range: {text}")


# --- Drive API errors (legacy "errors" array shape) ------------------------------------------


def drive_error(
    code: int,
    message: str,
    reason: str,
    *,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
) -> ApiError:
    """An error in the Drive v3 shape: ``{"error": {"code", "message", "errors": [...]}}``."""
    item: JSON = {"message": message, "domain": domain, "reason": reason}
    if location is not None:
        item["location"] = location
        item["locationType"] = location_type or "parameter"
    return ApiError(code, {"error": {"code": code, "message": message, "errors": [item]}})


def drive_not_found(file_id: str) -> ApiError:
    """404 for a file that does not exist or that the caller cannot see."""
    return drive_error(
        404, f"File not found: {file_id}.", "notFound", location="fileId", location_type="parameter"
    )


def drive_invalid(location: str, message: str = "Invalid Value") -> ApiError:
    """400 for a malformed parameter (query, page size, page token...)."""
    return drive_error(400, message, "invalid", location=location, location_type="parameter")


def drive_insufficient_permissions() -> ApiError:
    """403 for a caller who can see a file but lacks the role to change it."""
    return drive_error(
        403,
        "The user does not have sufficient permissions for this file.",
        "insufficientFilePermissions",
    )


def drive_storage_quota_exceeded() -> ApiError:
    """403 a service account gets when it creates a file outside a shared drive."""
    return drive_error(
        403,
        "The user's Drive storage quota has been exceeded.",
        "storageQuotaExceeded",
        domain="usageLimits",
    )


# --- Field masks -----------------------------------------------------------------------------


def parse_fields(text: str) -> FieldTree:
    """Parse a field mask such as ``"nextPageToken,files(id,name)"`` or ``"sheets.properties"``."""
    tree, pos = _parse_field_list(text.replace(" ", ""), 0)
    if pos != len(text.replace(" ", "")):
        raise ValueError(f"bad field mask: {text!r}")
    return tree


def _parse_field_list(text: str, pos: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while pos < len(text) and text[pos] != ")":
        start = pos
        while pos < len(text) and text[pos] not in ",()":
            pos += 1
        names = [name for name in text[start:pos].replace("/", ".").split(".") if name]
        sub: FieldTree | None = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse_field_list(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise ValueError(f"unbalanced field mask: {text!r}")
            pos += 1
        if names:
            _insert_path(tree, names, sub)
        if pos < len(text) and text[pos] == ",":
            pos += 1
    return tree, pos


def _insert_path(tree: FieldTree, names: list[str], leaf: FieldTree | None) -> None:
    node = tree
    for name in names[:-1]:
        child = node.get(name, {})
        if child is None:  # the whole value is already selected
            return
        node[name] = child
        node = child
    last = names[-1]
    if last in node and node[last] is None:
        return
    existing = node.get(last)
    if leaf is not None and isinstance(existing, dict):
        existing.update(leaf)
    else:
        node[last] = leaf


def apply_fields(value: Any, tree: FieldTree | None) -> Any:
    """Keep only the parts of a response selected by a field mask (``*`` keeps everything)."""
    if tree is None or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_fields(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: apply_fields(value[key], sub) for key, sub in tree.items() if key in value}
    return value


def merge_by_mask(target: JSON, source: JSON, tree: FieldTree) -> None:
    """Copy the masked fields of ``source`` into ``target``; masked fields absent are removed."""
    for key, sub in tree.items():
        if key == "*":
            target.clear()
            target.update(copy.deepcopy(source))
            continue
        new = source.get(key)
        if sub is None or (new is not None and not isinstance(new, dict)):
            if key in source:
                target[key] = copy.deepcopy(new)
            else:
                target.pop(key, None)
            continue
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
        merge_by_mask(child, new or {}, sub)
        if child:
            target[key] = child
        else:
            target.pop(key, None)


def mask_from_request(request: JSON, kind: str, index: int) -> FieldTree:
    """The ``fields`` mask of a batchUpdate request; Google requires one."""
    fields = request.get("fields")
    if not fields:
        raise sheets_invalid(
            f"Invalid requests[{index}].{kind}: At least one field must be specified."
        )
    try:
        return parse_fields(str(fields))
    except ValueError as exc:
        raise sheets_invalid(f"Invalid requests[{index}].{kind}: {exc}") from exc


# --- request context -------------------------------------------------------------------------


class Call:
    """One API call as the handlers see it: who calls, query parameters and JSON body."""

    def __init__(self, identity: str, query: dict[str, list[str]], body: Any) -> None:
        self.identity = identity
        self.query = query
        self.body = body

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter."""
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self, name: str) -> list[str]:
        """All values of a repeated query parameter (``ranges=...&ranges=...``)."""
        return list(self.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (``true``/``True``/``1``)."""
        value = self.param(name)
        return default if value is None else value.strip().lower() in ("true", "1")

    def json_body(self) -> JSON:
        """The body as an object (an absent body is ``{}``)."""
        return self.body if isinstance(self.body, dict) else {}


class Settings:
    """Behaviour switches shared by the Sheets and Drive handlers."""

    def __init__(self, service_account_no_storage: bool = False) -> None:
        self.service_account_no_storage = service_account_no_storage
        # e-mail (lower case) → the name Drive shows for that person; else the e-mail's local part
        self.display_names: dict[str, str] = {}

    def display_name(self, email: str) -> str:
        return self.display_names.get(email.lower(), email.split("@")[0])


class TokenCursor:
    """A position in a list of ``(kind, text)`` tokens, shared by the emulator's small parsers
    (formulas, Drive queries)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        self.pos += 1
        return token
