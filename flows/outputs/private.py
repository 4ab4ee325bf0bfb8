"""Folders only the office's own account may read: the state folders (history, snapshots,
reminder drafts), where a commune's text may sit before it is screened.

`keep_private` takes the group's and others' permissions away from a folder and from
everything in it (a folder 0700, a file 0600 for a umask of 022). It never adds a permission:
a folder someone made read-only stays read-only. The outputs meant for the office (the CSVs,
the report) are not private: they keep the umask's permissions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO  # 0o077


def restrict(path: Path) -> None:
    """Take the group's and others' permissions away from one file or folder."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & SHARED_BITS:
            return
        path.chmod(stat.S_IMODE(mode) & ~SHARED_BITS)
    except OSError:  # not ours, or gone meanwhile: the folder's own mode still protects it
        pass


def keep_private(folder: Path | str) -> None:
    """Create `folder` (0700) if missing, and take away the group's and others' permissions
    from it and from everything below it. A folder that cannot be made is left to whoever
    uses it next (it reports why)."""
    folder = Path(folder)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return
    if not folder.is_dir():
        return
    restrict(folder)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            restrict(Path(root) / name)
