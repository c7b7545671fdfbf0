"""The report page printed to PDF by headless Chromium (A4, as the page's print style sets it:
each section from a new page). A regional centre sends the PDF to its municipalities.

    print_pdf(render_html(report), Path("report.pdf"), chromium=find_chromium(settings.chromium))

Chromium runs with a fresh profile in a temporary directory (also its HOME), without network
services, and prints the page from a local file; the PDF is moved into place only when complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: Names tried on the PATH when no Chromium is configured.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_TIMEOUT_S = 180.0


class PdfError(RuntimeError):
    """Chromium is missing or could not print the page; the message is one line."""


def find_chromium(configured: str = "") -> str:
    """The Chromium executable: ``configured`` (a path or a name on the PATH), else the first of
    CHROMIUM_NAMES on the PATH. Raises PdfError when there is none."""
    for name in (configured,) if configured else CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if configured:
        raise PdfError(f"Chromium {configured!r} (SFERUM_CHROMIUM) is not an executable")
    raise PdfError("Chromium not found (install the Debian package chromium, or set SFERUM_CHROMIUM)")


def print_pdf(html: str, output: Path, *, chromium: str, timeout_s: float = PRINT_TIMEOUT_S) -> int:
    """Print ``html`` to ``output``; returns the PDF's size in bytes. Raises PdfError."""
    with tempfile.TemporaryDirectory(prefix="sferum-pdf-") as tmp:
        base = Path(tmp)
        page, pdf = base / "report.html", base / "report.pdf"
        page.write_text(html, encoding="utf-8")
        args = [
            chromium,
            "--headless",
            "--no-sandbox",  # also as root (containers, CI); the page is our own local file
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={base / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        env = os.environ | {"HOME": str(base)}
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print the page within {timeout_s:.0f} s") from None
        except OSError as exc:
            raise PdfError(f"cannot run Chromium {chromium}: {exc.strerror or exc}") from None
        if done.returncode != 0 or not pdf.is_file() or not pdf.read_bytes().startswith(b"%PDF-"):
            tail = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["no message"]
            raise PdfError(f"Chromium could not print the page (exit {done.returncode}): {tail[0][:200]}")
        size = pdf.stat().st_size
        partial = output.with_name(output.name + ".partial")
        shutil.move(pdf, partial)
        os.replace(partial, output)
        return size
