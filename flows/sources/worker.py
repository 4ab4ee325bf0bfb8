"""A reading process (`python -m flows.sources.worker`): reads files for `IsolatedReader`.

Each request on stdin is a pickled (path, limits); each answer on stdout is the pickled grids,
or the `Unreadable` (or other exception) that reading raised. Nothing else is ever printed.
"""

from __future__ import annotations

import pickle
import struct
import sys
from pathlib import Path

from flows.sources.spreadsheet import Unreadable, read_grids

_HEADER = struct.Struct("!Q")


def _exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while (header := _exact(requests, _HEADER.size)) is not None:
        payload = _exact(requests, _HEADER.unpack(header)[0])
        if payload is None:
            return
        path, limits = pickle.loads(payload)
        try:
            answer: object = read_grids(Path(path), limits)
        except MemoryError:
            answer = Unreadable("too-large-memory")
        except Exception as exc:  # reported to the parent, which decides what it means
            answer = exc
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_HEADER.pack(len(data)) + data)
        answers.flush()


if __name__ == "__main__":
    main()
