"""Running an export in the worker process (exports.export_worker) and following its progress:
what the export page calls, so that the web process neither stalls nor grows while a pack or a
ledger is built."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from audit.model import AuditError

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 1800


class WorkerRefused(AuditError):
    """The worker refused the export (a bad choice, a failed step): `texts` holds the message
    in each language, as the services' refusal gave it."""

    key = "error.generic"

    def __init__(self, texts: dict[str, str]):
        super().__init__(texts.get("en") or next(iter(texts.values()), ""))
        self.texts = texts


def run_export(request: dict, on_progress: Callable[[str, int, int], None] | None = None
               ) -> dict:
    """Build the export `request` asks for (exports.export_worker's request) in a child
    process, calling on_progress(step, done, total) as it reports; returns the build's summary.
    Raises WorkerRefused for a refusal and RuntimeError when the worker fails otherwise."""
    # stderr to a file: a pipe nobody reads while stdout is followed could fill and stall it.
    errors = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-m", "exports.export_worker"], cwd=str(ROOT),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=errors, text=True, encoding="utf-8", env=env)
    try:
        proc.stdin.write(json.dumps(request, ensure_ascii=False, default=str))
        proc.stdin.close()
        result = refused = None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "progress" in msg and on_progress is not None:
                on_progress(*msg["progress"])
            elif "result" in msg:
                result = msg["result"]
            elif "refused" in msg:
                refused = msg["refused"]
        code = proc.wait(timeout=TIMEOUT_SECONDS)
        errors.seek(0)
        err = errors.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errors.close()
    if refused is not None:
        raise WorkerRefused(refused)
    if code != 0 or result is None:
        raise RuntimeError(f"export worker exited {code}: {err[-2000:]}")
    return result
