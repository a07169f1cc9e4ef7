"""Poppler helpers for tests that check PDFs made by LibreOffice (pdfinfo, pdffonts, pdftoppm)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path


def page_count(pdf: Path) -> int:
    """Number of pages pdfinfo reports."""
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    match = re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE)
    if match is None:
        raise ValueError(f"pdfinfo printed no page count for {pdf}")
    return int(match.group(1))


def font_names(pdf: Path) -> list[str]:
    """Font names embedded or referenced in the PDF, subset prefixes (ABCDEF+) removed."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    names = []
    for line in out.splitlines()[2:]:  # two header lines: titles and dashes
        if line.strip():
            names.append(line.split()[0].split("+", 1)[-1])
    return names


def render_page(pdf: Path, page: int, out_prefix: Path, dpi: int = 80) -> Path:
    """Render one page to PNG with pdftoppm and return the PNG's path."""
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
                    "-singlefile", str(pdf), str(out_prefix)], check=True, timeout=60)
    return out_prefix.with_suffix(".png")


def page_text(pdf: Path, page: int) -> str:
    """Text of one page as pdftotext extracts it."""
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True, timeout=30).stdout
