"""Writes an export directory atomically and stamps it, so a current export is never rebuilt or half-written.

An export is written into a temp dir beside its target and renamed over it; the stamp (a JSON file of
everything that decides the content: source hash, code hash, parameters, library versions) is written
last, so a directory with a matching stamp is complete and current. Shared by every encoder exporter.
"""
import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
from typing import Callable, Iterable, Optional, Sequence

STAMP_FILE = "export_stamp.json"


def code_sha256(paths: Iterable[pathlib.Path]) -> str:
    """Hash of the modules that build a graph, so a code change invalidates cached exports."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(pathlib.Path(path).read_bytes())
    return digest.hexdigest()


def read_stamp(directory: pathlib.Path, required: Sequence[str]) -> Optional[dict]:
    """The stamp of a complete export (all required files and the stamp present), or None."""
    directory = pathlib.Path(directory)
    if not all((directory / name).is_file() for name in (*required, STAMP_FILE)):
        return None
    try:
        return json.loads((directory / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stamp_fingerprint(directory) -> str:
    """16 hex digits of the sha256 of the directory's stamp as canonical JSON (sorted keys, no spaces), so a
    cache key can change when the export at a fixed path is rewritten with other content; "" if there is no
    stamp there (a TF Hub or Kaggle handle, a remote path, a SavedModel we did not export, an export not
    written yet): such a handle can only be keyed by itself."""
    stamp = read_stamp(directory, required=())
    if stamp is None:
        return ""
    canonical = json.dumps(stamp, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _remove_stale_temps(output: pathlib.Path) -> None:
    """Deletes temp dirs of exports whose process is gone (an interrupted export leaves only these)."""
    pattern = re.compile(re.escape(f".{output.name}.") + r"(?:tmp|old)-(\d+)$")
    for path in output.parent.glob(f".{output.name}.*"):
        match = pattern.match(path.name)
        if match and not pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists but belongs to another user
    return True


def export_atomically(output_dir, stamp: dict, required: Sequence[str],
                      write: Callable[[pathlib.Path], None], overwrite: bool = False) -> str:
    """Calls write(temp_dir), stamps the result and renames it to output_dir; returns its resolved path.

    Returns at once if output_dir already holds a complete export with this stamp (unless overwrite).
    A stale export is replaced; a non-empty directory that is not an export only with overwrite=True.
    """
    output = pathlib.Path(output_dir).resolve()
    existing = read_stamp(output, required)
    if existing == stamp and not overwrite:
        return str(output)
    if output.exists() and existing is None and any(output.iterdir()) and not overwrite:
        raise FileExistsError(f"{output} exists and is not an encoder export; pass overwrite=True")

    output.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(output)
    temp = output.parent / f".{output.name}.tmp-{os.getpid()}"
    old = output.parent / f".{output.name}.old-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        write(temp)
        (temp / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        if output.exists():
            output.rename(old)
        temp.rename(output)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    logging.info("Exported %s", output)
    return str(output)
