#!/usr/bin/env python3
"""Consistent copy of a live SQLite database (Gitea's gitea.db, K3s's kine state.db).

Copying the file is not enough: kine runs in WAL mode (k3s-io/kine pkg/drivers/sqlite README:
`_journal=WAL`), so recent commits sit in state.db-wal, and a copy taken during a write is torn.
SQLite's online backup API copies the database as one read transaction, WAL included.
Usage: sqlite-backup.py SOURCE DEST
"""
import os
import sqlite3
import sys
import urllib.parse


def fail(message: str) -> None:
    print(f"sqlite-backup: {message}", file=sys.stderr)
    sys.exit(1)


def main(source: str, dest: str) -> None:
    if not os.path.isfile(source):
        fail(f"{source} does not exist: wrong path, or the volume is not mounted")
    part = dest + ".part"
    if os.path.exists(part):
        os.remove(part)
    # Read-only: this process never writes the live database (WAL readers still use its -shm).
    src = sqlite3.connect(f"file:{urllib.parse.quote(source)}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(part)
    try:
        src.backup(dst)
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            fail(f"the copy of {source} fails PRAGMA integrity_check: {check}")
        tables = dst.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    finally:
        dst.close()
        src.close()
    os.chmod(part, 0o600)
    os.replace(part, dest)
    print(f"sqlite-backup: {source} -> {dest}: {os.path.getsize(dest)} bytes, {tables} tables, integrity ok")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: sqlite-backup.py SOURCE DEST")
    main(sys.argv[1], sys.argv[2])
