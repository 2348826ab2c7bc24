"""Where published rule set versions live, and which one is active after a restart.

Publications are directories under ``<data_dir>/ruleset-versions/``; two small pointer files name
the active one (``ACTIVE``) and the candidate running in the engine's shadow slot (``SHADOW``). The
risk service reads them at start-up (:func:`managed_rules_paths`), so a published version stays
active across restarts. Deleting ``ACTIVE`` returns to the configured directory (``MAMORI_RULES_PATH``
or the built-in rules). Only the standard library is imported here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mamori.kit.files import write_atomically

log = logging.getLogger("mamori.rulesadmin")

VERSIONS_DIR = "ruleset-versions"
ACTIVE_POINTER = "ACTIVE"
SHADOW_POINTER = "SHADOW"
_MAX_POINTER_BYTES = 4096


def versions_root(data_dir: Path) -> Path:
    return data_dir / VERSIONS_DIR


def read_pointer(data_dir: Path, name: str) -> Path | None:
    """The directory a pointer names, or None (no pointer, or it names no directory: logged)."""
    path = versions_root(data_dir) / name
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_POINTER_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s (%s); ignoring it", path, exc)
        return None
    target = Path(raw.decode("utf-8", "replace").strip())
    if not target.is_absolute() or not target.is_dir():
        log.warning("%s names %r, which is not a rule set directory; ignoring it", path, str(target))
        return None
    return target


def write_pointer(data_dir: Path, name: str, target: Path | None) -> None:
    """Point ``name`` at ``target`` (atomically), or remove the pointer when ``target`` is None."""
    path = versions_root(data_dir) / name
    if target is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (str(target.resolve()) + "\n").encode("utf-8"), mode=0o644)


def managed_rules_paths(data_dir: Path, rules_path: Path, shadow_path: Path | None) -> tuple[Path, Path | None]:
    """The (active, shadow) rule directories to load at start-up: a published version and a shadow
    candidate win over the configured paths."""
    active = read_pointer(data_dir, ACTIVE_POINTER)
    shadow = read_pointer(data_dir, SHADOW_POINTER)
    if active is not None:
        log.info("rule set: published version %s (configured: %s)", active, rules_path)
    return active or rules_path, shadow or shadow_path
