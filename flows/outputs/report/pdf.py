"""`bao-cao.pdf` through LibreOffice, when it is installed; a clear note when it is not.

LibreOffice runs headless with its own throw-away profile (two runs at once, or a desktop session
of the same user, would otherwise fight over the default profile) and a time limit, after which
the whole process group is killed: a stuck converter must not hold up the nightly run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from flows.outputs.atomic import write_atomically

TIMEOUT_S = 180
NO_SOFFICE = ("Chưa tạo được bao-cao.pdf: máy chủ chưa cài LibreOffice (lệnh soffice). "
              "Mở bao-cao.docx bằng Word hoặc LibreOffice rồi lưu thành PDF, hoặc nhờ quản trị "
              "cài gói libreoffice-writer-nogui.")


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_to_pdf(docx: Path, pdf: Path, timeout: float = TIMEOUT_S) -> tuple[Path | None, str]:
    """Convert `docx` to `pdf`; returns (path or None, Vietnamese note when it failed)."""
    program = soffice()
    if program is None:
        return None, NO_SOFFICE
    with tempfile.TemporaryDirectory(prefix="giamsat-pdf-") as tmp:
        work = Path(tmp)
        command = [program, f"-env:UserInstallation={(work / 'profile').as_uri()}",
                   "--headless", "--norestore", "--nolockcheck", "--convert-to", "pdf",
                   "--outdir", str(work), str(docx)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        try:
            _, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # soffice forks: end the whole group
            process.communicate()
            return None, (f"Chưa tạo được bao-cao.pdf: LibreOffice không chuyển xong trong "
                          f"{int(timeout)} giây. Mở bao-cao.docx và lưu thành PDF.")
        produced = work / (docx.stem + ".pdf")
        if process.returncode != 0 or not produced.is_file():
            detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            return None, ("Chưa tạo được bao-cao.pdf: LibreOffice báo lỗi khi chuyển đổi "
                          f"({detail[0][:200]}). Mở bao-cao.docx và lưu thành PDF.")
        write_atomically(pdf, lambda target: shutil.copyfile(produced, target))
    return pdf, ""
