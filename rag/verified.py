"""Which segment files were checksummed whole, so opening the index need not hash them again.

A segment never changes once written. When every file of one hashes to its manifest's sha256
(at the write that made it, or at a load), the files' (size, mtime_ns, ctime_ns, inode) are
kept in `index/verified.json`; a later load whose files still show exactly those skips the
hashing (a second or more at 100k chunks). Any write to a file moves its ctime, which no
user-level call can set back, so an edited, truncated or replaced file is hashed again and
refused. Damage that leaves a file's metadata alone (a failing disk) is not seen at load: `rag
check` hashes every file, always. `RAG_CHECKSUM_ON_LOAD=always` hashes at every load too.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

FILE = "verified.json"

Stamp = dict[str, list[int]]  # file name -> [size, mtime_ns, ctime_ns, inode]


def stamp_of(folder: Path, names: tuple[str, ...]) -> Stamp | None:
    """The files' metadata now; None when one is missing."""
    out = {}
    for name in names:
        try:
            st = os.stat(folder / name)
        except OSError:
            return None
        out[name] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    return out


class VerifiedFiles:
    """`index/verified.json`: folder (relative to the index) -> the stamp of its files when
    they last hashed whole. Lost updates (two processes) only cost a hash at the next load."""

    def __init__(self, root: Path, file_mode: int) -> None:
        self.root = root
        self.file_mode = file_mode
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Stamp]:
        try:
            data = json.loads((self.root / FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _key(self, folder: Path) -> str:
        return folder.relative_to(self.root).as_posix()

    def unchanged(self, folder: Path, names: tuple[str, ...]) -> bool:
        """True when these files are exactly as they were when they last hashed whole."""
        recorded = self._read().get(self._key(folder))
        return recorded is not None and recorded == stamp_of(folder, names)

    def record(self, folder: Path, names: tuple[str, ...]) -> None:
        """These files just hashed whole (or were written and hashed by this process)."""
        stamp = stamp_of(folder, names)
        if stamp is not None:
            with self._lock:
                self._write({**self._read(), self._key(folder): stamp})

    def retain(self, folders: set[Path]) -> None:
        """Forget every folder but these (the rest were pruned)."""
        keys = {self._key(f) for f in folders}
        with self._lock:
            data = self._read()
            if data.keys() - keys:
                self._write({k: v for k, v in data.items() if k in keys})

    def _write(self, data: dict[str, Stamp]) -> None:
        tmp = self.root / f"{FILE}.tmp.{os.getpid()}.{threading.get_ident()}"
        try:
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.chmod(tmp, self.file_mode)
            os.replace(tmp, self.root / FILE)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only index: hashed again at the next load
