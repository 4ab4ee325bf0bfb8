"""Drive v3 endpoints of the emulator: files, permissions and (empty-ish) comments."""

from __future__ import annotations

import base64
import copy
from typing import Any

from flows.testing.google_emulator.common import (
    JSON,
    Call,
    FieldTree,
    Settings,
    apply_fields,
    drive_error,
    drive_insufficient_permissions,
    drive_invalid,
    drive_not_found,
    drive_storage_quota_exceeded,
    parse_fields,
)
from flows.testing.google_emulator.query import FileView, QueryError, compile_query
from flows.testing.google_emulator.state import (
    FOLDER_MIME,
    READER,
    ROLE_RANK,
    SPREADSHEET_MIME,
    WRITER,
    DriveFile,
    Store,
    new_spreadsheet,
    parse_rfc3339,
    permission_id,
    user_permission,
)

Answer = tuple[int, JSON | None]
_DEFAULT_FILE_FIELDS: FieldTree = {"kind": None, "id": None, "name": None, "mimeType": None}
_DEFAULT_LIST_FIELDS: FieldTree = {"nextPageToken": None, "kind": None, "incompleteSearch": None,
                                   "files": _DEFAULT_FILE_FIELDS}
_DEFAULT_PERMISSION_FIELDS: FieldTree = {"kind": None, "id": None, "type": None, "role": None}
_ORGANIZER = ROLE_RANK["organizer"]


def web_view_link(file: DriveFile) -> str:
    if file.mime_type == SPREADSHEET_MIME:
        return f"https://docs.google.com/spreadsheets/d/{file.id}/edit?usp=drivesdk"
    if file.mime_type == FOLDER_MIME:
        return f"https://drive.google.com/drive/folders/{file.id}"
    return f"https://drive.google.com/file/d/{file.id}/view?usp=drivesdk"


def _fields(call: Call, default: FieldTree) -> FieldTree:
    text = call.param("fields")
    if not text:
        return default
    try:
        return parse_fields(text)
    except ValueError as exc:
        raise drive_invalid("fields", f"Invalid field selection {text}") from exc


def permission_resource(permission: JSON) -> JSON:
    resource: JSON = {"kind": "drive#permission", **copy.deepcopy(permission)}
    if permission.get("emailAddress"):
        resource["displayName"] = str(permission["emailAddress"]).split("@")[0]
    return resource


class DriveApi:
    """Handlers of the Drive v3 routes. Each returns ``(status, body)``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # --- access ---

    def visible(self, call: Call, file_id: str) -> DriveFile:
        """A file the caller can see (trashed files stay visible, as in Drive)."""
        file = self.store.get(file_id)
        if file is None or self.store.role_rank(file, call.identity) < READER:
            raise drive_not_found(file_id)
        return file

    def require(self, call: Call, file: DriveFile, rank: int) -> None:
        if self.store.role_rank(file, call.identity) < rank:
            raise drive_insufficient_permissions()

    def _parents(self, call: Call, parents: Any) -> list[str]:
        if parents is None:
            return []
        if not isinstance(parents, list):
            raise drive_invalid("parents")
        for parent_id in parents:
            self.require(call, self.visible(call, str(parent_id)), WRITER)
        return [str(p) for p in parents]

    # --- resources ---

    def resource(self, file: DriveFile, identity: str) -> JSON:
        """The full ``File`` resource (responses are cut down by ``fields``)."""
        rank = self.store.role_rank(file, identity)
        resource: JSON = {
            "kind": "drive#file", "id": file.id, "name": file.name, "mimeType": file.mime_type,
            "starred": file.starred, "trashed": self.store.is_trashed(file),
            "explicitlyTrashed": file.trashed,
        }
        if file.parents:
            resource["parents"] = list(file.parents)
        if file.description is not None:
            resource["description"] = file.description
        resource.update(
            version=str(file.version), webViewLink=web_view_link(file),
            createdTime=file.created_time, modifiedTime=file.modified_time,
        )
        owner = file.owner
        if owner:
            resource["owners"] = [{"kind": "drive#user", "displayName": owner.split("@")[0],
                                   "me": owner.lower() == identity.lower(),
                                   "permissionId": permission_id("user", owner),
                                   "emailAddress": owner}]
        editor = file.last_modifying_user or owner
        if editor:
            resource["lastModifyingUser"] = {
                "kind": "drive#user", "displayName": self.settings.display_name(editor),
                "me": editor.lower() == identity.lower(),
                "permissionId": permission_id("user", editor), "emailAddress": editor}
        resource["permissions"] = [permission_resource(p) for p in file.permissions]
        resource["capabilities"] = {
            "canEdit": rank >= WRITER, "canCopy": file.mime_type != FOLDER_MIME,
            "canShare": rank >= WRITER, "canTrash": rank >= WRITER,
            "canDelete": rank >= _ORGANIZER, "canRename": rank >= WRITER,
        }
        return resource

    def _view(self, file: DriveFile, identity: str) -> FileView:
        """What the ``q`` language sees of a file."""
        def emails(min_rank: int) -> list[str]:
            found = [str(p.get("emailAddress")) for p in file.permissions
                     if ROLE_RANK.get(p.get("role", ""), 0) >= min_rank and p.get("emailAddress")]
            return found + (["me"] if identity.lower() in (e.lower() for e in found) else [])

        return {
            "name": file.name, "mimeType": file.mime_type, "description": file.description,
            "modifiedTime": parse_rfc3339(file.modified_time),
            "createdTime": parse_rfc3339(file.created_time),
            "trashed": self.store.is_trashed(file), "starred": file.starred,
            "parents": file.parents, "owners": emails(ROLE_RANK["owner"]),
            "writers": emails(WRITER), "readers": emails(READER),
        }

    # --- files ---

    def create(self, call: Call) -> Answer:
        """``POST /drive/v3/files`` (metadata only: spreadsheets, folders, empty files)."""
        body = call.json_body()
        parents = self._parents(call, body.get("parents"))
        mime_type = str(body.get("mimeType") or "application/octet-stream")
        if not parents and self.settings.service_account_no_storage:
            raise drive_storage_quota_exceeded()
        now = self.store.now()
        file = DriveFile(
            self.store.new_id(), str(body.get("name") or "Untitled"), mime_type, now, now,
            parents=parents, description=body.get("description"),
            starred=bool(body.get("starred")),
            permissions=[user_permission(call.identity, "owner")],
            spreadsheet=new_spreadsheet() if mime_type == SPREADSHEET_MIME else None,
        )
        self.store.add(file)
        return 200, apply_fields(self.resource(file, call.identity),
                                 _fields(call, _DEFAULT_FILE_FIELDS))

    def get(self, call: Call, file_id: str) -> Answer:
        """``GET /drive/v3/files/{id}``."""
        file = self.visible(call, file_id)
        if call.param("alt") == "media":
            raise drive_error(403, "Only files with binary content can be downloaded. Use "
                              "Export with Docs Editors files.", "fileNotDownloadable",
                              location="alt")
        return 200, apply_fields(self.resource(file, call.identity),
                                 _fields(call, _DEFAULT_FILE_FIELDS))

    def list(self, call: Call) -> Answer:
        """``GET /drive/v3/files`` with q, orderBy, pageSize/pageToken and fields."""
        try:
            predicate = compile_query(call.param("q") or "")
        except QueryError as exc:
            raise drive_invalid("q") from exc
        page_size = _page_size(call.param("pageSize"))
        offset = _decode_token(call.param("pageToken"))
        found = [f for f in self.store.files.values()
                 if self.store.role_rank(f, call.identity) >= READER
                 and predicate(self._view(f, call.identity))]
        found = _ordered(found, call.param("orderBy"))
        page = found[offset : offset + page_size]
        body: JSON = {}
        if offset + page_size < len(found):
            body["nextPageToken"] = _encode_token(offset + page_size)
        body.update(kind="drive#fileList", incompleteSearch=False,
                    files=[self.resource(f, call.identity) for f in page])
        return 200, apply_fields(body, _fields(call, _DEFAULT_LIST_FIELDS))

    def update(self, call: Call, file_id: str) -> Answer:
        """``PATCH /drive/v3/files/{id}``: name, trashed, starred, description, parents."""
        file = self.visible(call, file_id)
        self.require(call, file, WRITER)
        body = call.json_body()
        added = [p for p in (call.param("addParents") or "").split(",") if p]
        removed = [p for p in (call.param("removeParents") or "").split(",") if p]
        self._parents(call, added)  # validate before changing anything
        changed = False
        if body.get("name") is not None and body["name"] != file.name:
            file.name, changed = str(body["name"]), True
        if "description" in body and body["description"] != file.description:
            file.description, changed = body["description"], True
        if body.get("trashed") is not None:
            file.trashed = bool(body["trashed"])
        if body.get("starred") is not None:
            file.starred = bool(body["starred"])
        if added or removed:
            file.parents = [p for p in file.parents if p not in removed]
            file.parents += [p for p in added if p not in file.parents]
            changed = True
        if changed:
            self.store.touch(file, call.identity)
        return 200, apply_fields(self.resource(file, call.identity),
                                 _fields(call, _DEFAULT_FILE_FIELDS))

    def delete(self, call: Call, file_id: str) -> Answer:
        """``DELETE /drive/v3/files/{id}``: permanent (folders with their content)."""
        file = self.visible(call, file_id)
        self.require(call, file, _ORGANIZER)
        self.store.remove_tree(file.id)
        return 204, None

    def copy(self, call: Call, file_id: str) -> Answer:
        """``POST /drive/v3/files/{id}/copy``: content and protections, not sharing."""
        source = self.visible(call, file_id)
        if source.mime_type == FOLDER_MIME:
            raise drive_error(403, "This file cannot be copied by the user.", "cannotCopyFile")
        body = call.json_body()
        parents = self._parents(call, body.get("parents")) or list(source.parents)
        if not parents and self.settings.service_account_no_storage:
            raise drive_storage_quota_exceeded()
        content = copy.deepcopy(source.spreadsheet)
        for sheet in content.sheets if content else []:
            for protected in sheet.protected_ranges:
                protected["editors"] = {"users": [call.identity]}
        now = self.store.now()
        file = DriveFile(
            self.store.new_id(), str(body.get("name") or f"Copy of {source.name}"),
            source.mime_type, now, now, parents=parents,
            description=body.get("description", source.description),
            permissions=[user_permission(call.identity, "owner")], spreadsheet=content,
        )
        self.store.add(file)
        return 200, apply_fields(self.resource(file, call.identity),
                                 _fields(call, _DEFAULT_FILE_FIELDS))

    # --- permissions ---

    def permissions_list(self, call: Call, file_id: str) -> Answer:
        file = self.visible(call, file_id)
        body = {"kind": "drive#permissionList",
                "permissions": [permission_resource(p) for p in file.permissions]}
        return 200, apply_fields(body, _fields(call, {"kind": None, "nextPageToken": None,
                                                      "permissions": None}))

    def permissions_create(self, call: Call, file_id: str) -> Answer:
        file = self.visible(call, file_id)
        self.require(call, file, WRITER)
        body = call.json_body()
        kind, role = body.get("type"), body.get("role")
        if kind not in ("user", "group", "domain", "anyone"):
            raise drive_error(400, "The permission type field is required.", "required",
                              location="permission.type")
        if role not in ROLE_RANK:
            raise drive_error(400, "The permission role field is required.", "required",
                              location="permission.role")
        who = body.get("domain") if kind == "domain" else body.get("emailAddress")
        if kind in ("user", "group", "domain") and not who:
            field = "domain" if kind == "domain" else "emailAddress"
            raise drive_error(400, f"The permission {field} field is required.", "required",
                              location=f"permission.{field}")
        if role == "owner" and not call.flag("transferOwnership"):
            raise drive_error(403, "Consent is required to transfer ownership of a file to "
                              "another user.", "consentRequiredForOwnershipTransfer",
                              location="transferOwnership")
        permission = self._grant(file, str(kind), who, str(role))
        return 200, apply_fields(permission_resource(permission),
                                 _fields(call, _DEFAULT_PERMISSION_FIELDS))

    @staticmethod
    def _grant(file: DriveFile, kind: str, who: Any, role: str) -> JSON:
        if role == "owner":
            for permission in file.permissions:
                if permission.get("role") == "owner":
                    permission["role"] = "writer"
        pid = permission_id(kind, who)
        existing = next((p for p in file.permissions if p["id"] == pid), None)
        if existing is not None:
            existing["role"] = role
            return existing
        permission: JSON = {"id": pid, "type": kind, "role": role}
        if kind in ("user", "group"):
            permission["emailAddress"] = str(who)
        elif kind == "domain":
            permission["domain"] = str(who)
        file.permissions.append(permission)
        return permission

    def _permission(self, file: DriveFile, permission_id_: str) -> JSON:
        found = next((p for p in file.permissions if p["id"] == permission_id_), None)
        if found is None:
            raise drive_error(404, f"Permission not found: {permission_id_}.", "notFound",
                              location="permissionId")
        return found

    def permissions_get(self, call: Call, file_id: str, permission_id_: str) -> Answer:
        file = self.visible(call, file_id)
        permission = self._permission(file, permission_id_)
        return 200, apply_fields(permission_resource(permission),
                                 _fields(call, _DEFAULT_PERMISSION_FIELDS))

    def permissions_update(self, call: Call, file_id: str, permission_id_: str) -> Answer:
        file = self.visible(call, file_id)
        self.require(call, file, WRITER)
        permission = self._permission(file, permission_id_)
        role = call.json_body().get("role")
        if role not in ROLE_RANK:
            raise drive_invalid("permission.role")
        permission["role"] = role
        return 200, apply_fields(permission_resource(permission),
                                 _fields(call, _DEFAULT_PERMISSION_FIELDS))

    def permissions_delete(self, call: Call, file_id: str, permission_id_: str) -> Answer:
        file = self.visible(call, file_id)
        self.require(call, file, WRITER)
        permission = self._permission(file, permission_id_)
        if permission.get("role") == "owner":
            raise drive_error(403, "The owner of a file cannot be removed.", "cannotRemoveOwner")
        file.permissions.remove(permission)
        return 204, None

    # --- comments ---

    def comments_list(self, call: Call, file_id: str) -> Answer:
        file = self.visible(call, file_id)
        tree = _required_fields(call)
        body = {"kind": "drive#commentList", "comments": copy.deepcopy(file.comments)}
        return 200, apply_fields(body, tree)

    def comments_create(self, call: Call, file_id: str) -> Answer:
        file = self.visible(call, file_id)
        tree = _required_fields(call)
        body = call.json_body()
        if not body.get("content"):
            raise drive_error(400, "Required: content", "required", location="content")
        now = self.store.now()
        comment: JSON = {"kind": "drive#comment", "id": self.store.new_id()[:20],
                         "content": str(body["content"]), "createdTime": now,
                         "modifiedTime": now, "deleted": False, "resolved": False,
                         "author": {"kind": "drive#user", "displayName": call.identity}}
        if body.get("anchor"):
            comment["anchor"] = body["anchor"]
        file.comments.append(comment)
        return 200, apply_fields(copy.deepcopy(comment), tree)


def _required_fields(call: Call) -> FieldTree:
    if not call.param("fields"):
        raise drive_error(400, "The 'fields' parameter is required for this method.",
                          "required", location="fields")
    return _fields(call, {})


def _page_size(text: str | None) -> int:
    try:
        size = int(text) if text else 100
    except ValueError as exc:
        raise drive_invalid("pageSize") from exc
    if not 1 <= size <= 1000:
        raise drive_invalid("pageSize")
    return size


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith("offset:"):
            raise ValueError(text)
        return int(text.split(":", 1)[1])
    except ValueError as exc:
        raise drive_invalid("pageToken") from exc


def _ordered(files: list[DriveFile], order_by: str | None) -> list[DriveFile]:
    """Sort by ``orderBy`` (modifiedTime, createdTime, name, folder; ``desc`` allowed)."""
    result = sorted(files, key=lambda f: (f.created_time, f.id))
    keys = {
        "modifiedTime": lambda f: f.modified_time,
        "createdTime": lambda f: f.created_time,
        "name": lambda f: f.name.casefold(),
        "name_natural": lambda f: f.name.casefold(),
        "folder": lambda f: f.mime_type != FOLDER_MIME,
    }
    for part in reversed([p.strip() for p in (order_by or "").split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        key = keys.get(name)
        if key is not None:
            result.sort(key=key, reverse=direction.strip().lower() == "desc")
    return result
