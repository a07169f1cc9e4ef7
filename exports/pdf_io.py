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


# Debian's fonts-noto-cjk ships each weight as one collection (.ttc) of the JP, KR, SC, TC and HK
# faces. LibreOffice 7.4 takes the collection's first face (JP) whatever face fontconfig chose:
# the PDF then names Noto…CJKjp and draws with it (the zh-CN language mark rescues most shapes,
# not all). So the SC faces are taken out of the collections once, as single fonts, and the
# collections are hidden from the conversion.
_CJK_COLLECTIONS = ("NotoSerifCJK-*.ttc", "NotoSansCJK-*.ttc")
_CJK_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk",
             "/usr/share/fonts/google-noto-cjk")


def sc_font_dir(cache: Path | None = None) -> Path | None:
    """A folder holding the SC face of every Noto CJK collection on the machine as its own
    .otf (made once, kept in the user's cache), or None when there is no collection."""
    from fontTools.ttLib import TTCollection
    base = cache or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "audit-tracker" / "fonts-sc"
    collections = [c for d in _CJK_DIRS for pattern in _CJK_COLLECTIONS
                   for c in sorted(Path(d).glob(pattern))]
    if not collections:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for collection in collections:
        marker = folder / f"{collection.stem}.done"
        if marker.exists() and marker.stat().st_mtime >= collection.stat().st_mtime:
            continue
        # The outlines are copied as they are: recomputing every glyph's bounds took minutes.
        fonts = TTCollection(str(collection), lazy=True, recalcBBoxes=False,
                             recalcTimestamp=False).fonts
        for font in fonts:
            name = font["name"].getDebugName(6) or ""
            if "CJKsc-" in name:
                _name_cff_after(font, name)
                with atomic_file(folder / f"{name}.otf") as fh:
                    font.save(fh, reorderTables=False)
        marker.write_text(str(collection), encoding="utf-8")
    return folder


def _name_cff_after(font, name: str) -> None:
    """The collection's faces share one CFF table named after its first face (…CJKjp…), and
    a PDF names the fonts it embeds after it: name the SC face's copy after the SC face."""
    if "CFF " not in font:
        return
    cff = font["CFF "].cff
    old = cff.fontNames[0]
    cff.fontNames = [name]
    top = cff[name] if name in cff.fontNames else cff.topDictIndex[0]
    for fd in getattr(top, "FDArray", None) or []:
        if getattr(fd, "FontName", None):
            fd.FontName = fd.FontName.replace(old, name)
    if hasattr(top, "FontName"):
        top.FontName = name


def write_fontconfig(workdir: Path, sc_dir: Path | None = None) -> Path:
    """A fonts.conf that loads the system configuration, the single SC faces of `sc_dir` in
    place of the Noto CJK collections, and the 宋体/仿宋/楷体/黑体 → SC aliases."""
    conf = workdir / "fonts.conf"
    sc = ""
    if sc_dir is not None:
        globs = "".join(f"<glob>*/{pattern}</glob>" for pattern in _CJK_COLLECTIONS)
        sc = (f"  <dir>{escape(str(sc_dir))}</dir>\n"
              f"  <selectfont><rejectfont>{globs}</rejectfont></selectfont>\n"
              f"  <cachedir>{escape(str(workdir / 'fc-cache'))}</cachedir>\n")
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<fontconfig>\n"
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        + sc +
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
        env = dict(os.environ, FONTCONFIG_FILE=str(write_fontconfig(workdir, sc_font_dir())),
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
