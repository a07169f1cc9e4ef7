"""PDF conversion of a Word file through headless LibreOffice (a child process), with the
宋体/黑体/楷体/仿宋 → Noto CJK SC aliases of docs/fontconfig so that the PDF never falls back to
the Japanese glyph forms of the CJK fonts."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

FONTCONFIG_ALIASES = (Path(__file__).resolve().parent.parent / "docs" / "fontconfig"
                      / "cjk-sc-aliases.conf")


class PdfConversionError(RuntimeError):
    """LibreOffice is missing, timed out, or produced no PDF; the message says which."""


def write_fontconfig(workdir: Path) -> Path:
    """A fonts.conf that loads the system configuration and then the 宋体/黑体 → Noto SC aliases."""
    conf = workdir / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<fontconfig>\n"
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <include>{escape(str(FONTCONFIG_ALIASES))}</include>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


def convert_to_pdf(docx_path: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None,
                   *, timeout_s: float = 120.0) -> Path:
    """Convert a .docx to PDF with headless LibreOffice and return the PDF's path.

    Raises PdfConversionError when soffice is not installed, times out or writes no PDF.
    """
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise PdfConversionError("LibreOffice (soffice) is not installed")
    source = Path(docx_path).resolve()
    out = Path(out_dir).resolve() if out_dir is not None else source.parent
    out.mkdir(parents=True, exist_ok=True)
    # A private profile per run: concurrent conversions sharing one profile block each other.
    with tempfile.TemporaryDirectory(prefix="pack-soffice-") as work:
        workdir = Path(work)
        staging = workdir / "out"
        env = dict(os.environ, FONTCONFIG_FILE=str(write_fontconfig(workdir)),
                   HOME=str(workdir))
        cmd = [soffice, f"-env:UserInstallation={(workdir / 'profile').as_uri()}", "--headless",
               "--norestore", "--nologo", "--nodefault", "--nolockcheck",
               "--convert-to", "pdf", "--outdir", str(staging), str(source)]
        # Own process group, so a hung soffice.bin (a grandchild) can be ended on timeout.
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise PdfConversionError(f"LibreOffice did not finish within {timeout_s:.0f} s") from None
        produced = staging / (source.stem + ".pdf")
        # soffice can exit 0 without writing anything ("source file could not be loaded"), and
        # converting in a staging folder means an old PDF at the target is never mistaken for
        # a new one, nor left half-written.
        if proc.returncode != 0 or not produced.exists():
            message = (stderr or stdout).decode(errors="replace").strip()
            raise PdfConversionError(
                f"LibreOffice exited with {proc.returncode} and wrote no PDF: {message}")
        pdf = out / produced.name
        # Copy beside the target, then rename: the staging folder may be on another filesystem.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{pdf.name}.", suffix=".tmp", dir=out)
        os.close(fd)
        try:
            shutil.copyfile(produced, tmp_name)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, pdf)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    return pdf
