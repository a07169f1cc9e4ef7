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

from exports.docx_table_format import atomic_file

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
        write_replacement_table(workdir / "profile")
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
        with atomic_file(pdf) as fh, open(produced, "rb") as src:
            shutil.copyfileobj(src, fh)
    return pdf


# The Chinese font names the pack's documents use → the Simplified Chinese face that renders
# them here, for LibreOffice's own replacement table (applied before fontconfig, which alone let
# some runs fall back to the Japanese face): (name in the file, face here).
SC_FACES: tuple[tuple[str, str], ...] = (
    ("宋体", "Noto Serif CJK SC"), ("SimSun", "Noto Serif CJK SC"),
    ("仿宋", "Noto Serif CJK SC"), ("FangSong", "Noto Serif CJK SC"),
    ("仿宋_GB2312", "Noto Serif CJK SC"),
    ("楷体", "AR PL UKai CN"), ("KaiTi", "AR PL UKai CN"), ("楷体_GB2312", "AR PL UKai CN"),
    ("黑体", "Noto Sans CJK SC"), ("SimHei", "Noto Sans CJK SC"),
    ("方正小标宋简体", "Noto Serif CJK SC"),
)


def _kai_face() -> str:
    """The Kai face for 楷体: AR PL UKai CN (Debian's fonts-arphic-ukai) where installed, else
    the SC serif face (a 楷体 heading then renders as 宋体 would: still Simplified Chinese)."""
    found = subprocess.run(["fc-list", "AR PL UKai CN", "family"], capture_output=True,
                           text=True, check=False).stdout if shutil.which("fc-list") else ""
    return "AR PL UKai CN" if "UKai" in found else "Noto Serif CJK SC"


def write_replacement_table(profile: Path) -> Path:
    """A LibreOffice user profile whose font replacement table maps SC_FACES, always applied
    on screen and in print (the PDF), so that no Chinese run falls back to a Japanese face."""
    kai = _kai_face()
    items = []
    for i, (name, face) in enumerate(SC_FACES):
        face = kai if face == "AR PL UKai CN" else face
        node = f"_{i}"
        items.append(
            '<item oor:path="/org.openoffice.VCL/FontSubstitutions">'
            f'<node oor:name="{node}" oor:op="replace">'
            f'<prop oor:name="Always" oor:op="fuse"><value>true</value></prop>'
            f'<prop oor:name="OnScreenOnly" oor:op="fuse"><value>false</value></prop>'
            f'<prop oor:name="ReplaceFont" oor:op="fuse"><value>{escape(name)}</value></prop>'
            f'<prop oor:name="SubstituteFont" oor:op="fuse"><value>{escape(face)}</value></prop>'
            "</node></item>")
    items.append('<item oor:path="/org.openoffice.VCL"><prop oor:name="FontSubstitutionsEnabled"'
                 ' oor:op="fuse"><value>true</value></prop></item>')
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    xcu = user / "registrymodifications.xcu"
    xcu.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "\n".join(items) + "\n</oor:items>\n", encoding="utf-8")
    return xcu
