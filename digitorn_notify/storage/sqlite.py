"""``SQLiteStore``: the embedded persistent store (stdlib ``sqlite3`` in worker threads).

One connection per store, used by one worker thread at a time. The database runs in
WAL mode with a busy timeout, and the lease step runs in a ``BEGIN IMMEDIATE``
transaction, so several processes on one machine can share one file and a due job
is still acquired by one of them only. Times are stored as integer microseconds
since the epoch (exact round trips); records' ``data`` as JSON text. A row that
cannot be decoded is read as a record whose ``data`` says why
(:func:`~.protocols.unreadable_data`), never as an error of the whole call.

Calls reach the connection through a :class:`~._batching.BatchingExecutor`: the calls
made while one batch is in the worker thread go together in the next. This module
says what a batch does with SQLite (consecutive writes share one transaction); the
executor, how calls queue, lead and are cancelled.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from os import PathLike
from typing import Any, Literal, Self, TypeVar

import anyio

from digitorn_notify.errors import StoreError
from digitorn_notify.storage._batching import BatchingExecutor, Call, in_worker_thread
from digitorn_notify.storage.protocols import (
    BufferedNotification,
    JobRecord,
    WatcherRecord,
    unreadable_data,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")

SCHEMA_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            data TEXT NOT NULL,
            next_run_at INTEGER,
            lease_owner TEXT,
            lease_expires_at INTEGER
        )""",
        "CREATE INDEX jobs_due ON jobs (next_run_at)",
        "CREATE INDEX jobs_app ON jobs (app_id)",
        """CREATE TABLE watchers (
            watcher_id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        """CREATE TABLE notification_buffer (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            entry_id TEXT NOT NULL,
            app_id TEXT NOT NULL,
            session_id TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX buffer_app ON notification_buffer (app_id, created_at, seq)",
    ),
}


def _to_us(value: datetime | None) -> int | None:
    if value is None:
        return None
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _dump(data: dict[str, Any]) -> str:
    try:
        return _ENCODER.encode(data)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"record data is not JSON-serialisable: {exc}") from None


def _as_text(raw: object) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return raw if isinstance(raw, str) else repr(raw)


def _load(raw: object) -> dict[str, Any]:
    """A row's ``data``; :func:`unreadable_data` when it is not a JSON object.

    A torn write or a hand edit makes one row unreadable, not the call that reads
    it: its owner reports it, and the row stays for inspection.
    """
    try:
        data = json.loads(raw)  # type: ignore[arg-type]  # a hand edit may store anything
    except (TypeError, ValueError) as exc:  # UnicodeDecodeError included
        return unreadable_data(f"stored data is not valid JSON ({exc})", _as_text(raw))
    if not isinstance(data, dict):
        reason = f"stored data is a JSON {type(data).__name__}, not an object"
        return unreadable_data(reason, _as_text(raw))
    return data


def _time(row: sqlite3.Row, column: str) -> datetime | None:
    value = row[column]
    if value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        try:
            return _from_us(value)  # type: ignore[arg-type]  # a float is fine too
        except OverflowError:
            pass
    raise ValueError(f"column {column} holds {type(value).__name__} {value!r}, not a time")


def _job(row: sqlite3.Row) -> JobRecord:
    data = _load(row["data"])
    try:
        next_run_at, lease_expires_at = _time(row, "next_run_at"), _time(row, "lease_expires_at")
    except ValueError as exc:
        # Never due while unreadable: its owner marks it failed, with the reason.
        data = unreadable_data(str(exc), _as_text(row["data"]))
        next_run_at = lease_expires_at = None
    return JobRecord(
        job_id=row["job_id"],
        app_id=row["app_id"],
        data=data,
        next_run_at=next_run_at,
        lease_owner=row["lease_owner"] if lease_expires_at is not None else None,
        lease_expires_at=lease_expires_at,
    )


def _watcher(row: sqlite3.Row) -> WatcherRecord:
    return WatcherRecord(row["watcher_id"], row["app_id"], _load(row["data"]))


def _entry(row: sqlite3.Row, now: datetime) -> BufferedNotification:
    data = _load(row["data"])
    try:
        created, expires = _time(row, "created_at"), _time(row, "expires_at")
    except ValueError as exc:
        data = unreadable_data(str(exc), _as_text(row["data"]))
        created = expires = None
    return BufferedNotification(
        entry_id=row["entry_id"],
        app_id=row["app_id"],
        session_id=row["session_id"],
        # NOT NULL columns; a hand edit's unreadable time counts as "expires now".
        created_at=created or now,
        expires_at=expires or now,
        data=data,
    )


_Kind = Literal["read", "write", "transaction", "close"]


def _CLOSE(conn: sqlite3.Connection) -> None:  # noqa: N802 - a marker, named as a constant
    """The function of an ``aclose()`` call (the batch closes the connection itself)."""


def _own_copy(exc: Exception) -> Exception:
    """``exc`` again, as a new object: each caller raises its own (tracebacks differ)."""
    if isinstance(exc, StoreError):
        return StoreError(str(exc))
    return exc


_SQLCall = Call[sqlite3.Connection]


class SQLiteStore:
    """:class:`JobStore`, :class:`WatcherStore` and :class:`NotificationBuffer` in SQLite.

    ``path`` is a file path (created if missing) or ``":memory:"``. The connection is
    opened on first use; close it with :meth:`aclose` or ``async with``.

    Stores of other components (triggers, the dispatcher...) share this store's file,
    connection and batching by running their SQL through :meth:`run`, in tables of
    their own that they create themselves (``CREATE TABLE IF NOT EXISTS`` in a
    ``"transaction"`` call before first use).
    """

    def __init__(self, path: str | PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._conn: sqlite3.Connection | None = None
        # One thread at a time on the connection: the executor runs one batch at a
        # time, and the lock makes the connection safe whatever thread runs it.
        self._lock = threading.Lock()
        self._executor: BatchingExecutor[sqlite3.Connection] = BatchingExecutor(
            in_worker_thread(self._execute)
        )

    async def __aenter__(self) -> Self:
        await self._run(lambda conn: None)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (the store reopens it if used again)."""
        # Queued like any call, so the calls made before it run first; shielded: a
        # close abandoned by cancellation would leak the connection.
        with anyio.CancelScope(shield=True):
            await self._run(_CLOSE, "close")

    def _close(self) -> None:
        # Called with self._lock held.
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- plumbing ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,  # we issue BEGIN ourselves
                check_same_thread=False,  # worker threads vary; the lock serialises use
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store at {self.path}: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open SQLite store at {self.path}: {exc}") from None
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {current}, newer than this "
                    f"library's {SCHEMA_VERSION}; upgrade digitorn-notify"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def run(self, func: Callable[[sqlite3.Connection], T], kind: _Kind = "read") -> T:
        """``func(conn)`` in the store's worker thread, batched with the calls made meanwhile.

        This is how stores built on this one (sharing its file, connection and
        batching) run their SQL. Calls made while a batch is in its worker thread
        queue up and go together in the next one: one thread hop for all of them, and
        consecutive ``"write"`` calls in one transaction (one commit). Each call still
        gets its own result or error, in order (see ``storage/_batching.py`` for what
        cancellation does). ``kind`` is:

        - ``"read"``: runs outside any transaction;
        - ``"write"``: exactly one statement; may share a transaction with the writes
          next to it (if one fails, each runs again on its own);
        - ``"transaction"``: runs alone and issues its own ``BEGIN IMMEDIATE`` and
          ``COMMIT`` (see :meth:`transaction`); a companion store creates its tables
          this way, with ``CREATE TABLE IF NOT EXISTS``, before its first use;
        - ``"close"``: closes the connection once the calls queued before it have run
          (used by :meth:`aclose`).

        ``sqlite3.Error`` becomes :class:`StoreError`; other exceptions reach the
        caller as raised. ``func`` must not keep ``conn`` or cursors beyond its return.
        """
        return await self._executor.run(func, kind)

    # The name every store built on this one calls (kept as it was when it was the
    # only one): same signature and semantics as :meth:`run`.
    _run = run

    def _execute(self, batch: list[_SQLCall]) -> None:
        """Run ``batch`` (in the worker thread): writes grouped, the rest one by one."""
        with self._lock:
            start = 0
            while start < len(batch):
                end = start + 1
                if batch[start].kind == "write":
                    while end < len(batch) and batch[end].kind == "write":
                        end += 1
                calls = batch[start:end]
                start = end
                if calls[0].kind == "close":
                    self._close()
                    calls[0].succeed(None)
                elif (conn := self._opened(calls)) is None:
                    continue
                elif len(calls) > 1:
                    self._group(conn, calls)
                else:
                    self._one(conn, calls[0])

    def _opened(self, calls: list[_SQLCall]) -> sqlite3.Connection | None:
        """The connection, opened if need be; ``None`` (and ``calls`` failed) if it cannot be."""
        if self._conn is None:
            try:
                self._conn = self._connect()
            except Exception as exc:
                for call in calls:
                    call.fail(_own_copy(exc))
                return None
        return self._conn

    def _one(self, conn: sqlite3.Connection, call: _SQLCall) -> None:
        try:
            result = call.func(conn)
        except sqlite3.Error as exc:
            call.fail(StoreError(f"SQLite store {self.path}: {exc}"))
        except Exception as exc:  # handed to the caller, as a direct call would raise it
            call.fail(exc)
        else:
            call.succeed(result)

    def _group(self, conn: sqlite3.Connection, calls: list[_SQLCall]) -> None:
        """Single-statement writes in one transaction; one by one if any fails."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            # The write lock was not had within the busy timeout: waiting that long
            # again for each call would not make it come sooner.
            for call in calls:
                call.fail(StoreError(f"SQLite store {self.path}: {exc}"))
            return
        try:
            results = [call.func(conn) for call in calls]
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if not isinstance(exc, Exception):
                raise
            # Each again on its own, so that each gets its own outcome.
            for call in calls:
                self._one(conn, call)
            return
        for call, result in zip(calls, results, strict=True):
            call.succeed(result)

    @staticmethod
    def transaction(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
        """``body()`` between ``BEGIN IMMEDIATE`` and ``COMMIT`` (rolled back if it raises).

        For the function of a ``"transaction"`` call (see :meth:`run`).
        """
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # -- jobs --------------------------------------------------------------------------

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace."""
        row = (
            job.job_id,
            job.app_id,
            _dump(job.data),
            _to_us(job.next_run_at),
            job.lease_owner,
            _to_us(job.lease_expires_at),
        )
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?)", row
            ).close(),
            "write",
        )

    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or ``None``."""
        row = await self._run(
            lambda conn: conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        )
        return None if row is None else _job(row)

    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]:
        """Jobs of ``app_id`` (all when ``None``), by id."""
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM jobs WHERE ? IS NULL OR app_id = ? ORDER BY job_id",
                (app_id, app_id),
            ).fetchall()
        )
        return [_job(row) for row in rows]

    async def delete_job(self, job_id: str) -> bool:
        """Remove; ``True`` when it existed."""
        count = await self._run(
            lambda conn: conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount,
            "write",
        )
        return count > 0

    async def acquire_due_jobs(
        self,
        now: datetime,
        *,
        owner: str,
        lease_seconds: float,
        limit: int = 100,
        app_id: str | None = None,
    ) -> list[JobRecord]:
        """Lease due, free jobs in one ``BEGIN IMMEDIATE`` transaction."""
        now_us = _to_us(now)
        expires_us = _to_us(now + timedelta(seconds=lease_seconds))

        def acquire(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            def body() -> list[sqlite3.Row]:
                rows = conn.execute(
                    """SELECT job_id FROM jobs
                       WHERE next_run_at IS NOT NULL AND next_run_at <= ?
                         AND (? IS NULL OR app_id = ?)
                         AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
                       ORDER BY next_run_at, job_id LIMIT ?""",
                    (now_us, app_id, app_id, now_us, limit),
                ).fetchall()
                ids = [r["job_id"] for r in rows]
                if not ids:
                    return []
                conn.executemany(
                    "UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE job_id = ?",
                    [(owner, expires_us, job_id) for job_id in ids],
                )
                marks = ",".join("?" * len(ids))
                # Only "?" placeholders are formatted in; the ids travel as bind values.
                query = f"SELECT * FROM jobs WHERE job_id IN ({marks}) ORDER BY next_run_at, job_id"  # noqa: S608
                return conn.execute(query, ids).fetchall()

            return self.transaction(conn, body)

        return [_job(row) for row in await self._run(acquire, "transaction")]

    async def release_job(self, job: JobRecord, *, owner: str) -> bool:
        """Save and unlease, if ``owner`` still holds the lease."""
        row = (
            job.app_id,
            _dump(job.data),
            _to_us(job.next_run_at),
            job.job_id,
            owner,
        )
        count = await self._run(
            lambda conn: (
                conn.execute(
                    """UPDATE jobs SET app_id = ?, data = ?, next_run_at = ?,
                       lease_owner = NULL, lease_expires_at = NULL
                   WHERE job_id = ? AND lease_owner = ?""",
                    row,
                ).rowcount
            ),
            "write",
        )
        return count > 0

    async def next_due_at(self, app_id: str | None = None) -> datetime | None:
        """Earliest ``next_run_at``."""
        value = await self._run(
            lambda conn: conn.execute(
                "SELECT MIN(next_run_at) FROM jobs WHERE ? IS NULL OR app_id = ?",
                (app_id, app_id),
            ).fetchone()[0]
        )
        return _from_us(value)

    # -- watchers ----------------------------------------------------------------------

    async def save_watcher(self, watcher: WatcherRecord) -> None:
        """Insert or replace."""
        row = (watcher.watcher_id, watcher.app_id, _dump(watcher.data))
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO watchers VALUES (?, ?, ?)", row
            ).close(),
            "write",
        )

    async def get_watcher(self, watcher_id: str) -> WatcherRecord | None:
        """The watcher, or ``None``."""
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM watchers WHERE watcher_id = ?", (watcher_id,)
            ).fetchone()
        )
        if row is None:
            return None
        return _watcher(row)

    async def list_watchers(self, app_id: str | None = None) -> list[WatcherRecord]:
        """Watchers of ``app_id`` (all when ``None``), by id."""
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM watchers WHERE ? IS NULL OR app_id = ? ORDER BY watcher_id",
                (app_id, app_id),
            ).fetchall()
        )
        return [_watcher(row) for row in rows]

    async def delete_watcher(self, watcher_id: str) -> bool:
        """Remove; ``True`` when it existed."""
        count = await self._run(
            lambda conn: (
                conn.execute("DELETE FROM watchers WHERE watcher_id = ?", (watcher_id,)).rowcount
            ),
            "write",
        )
        return count > 0

    # -- notification buffer --------------------------------------------------------------

    async def push_notification(self, entry: BufferedNotification, *, max_per_app: int) -> int:
        """Append; drop the app's oldest beyond ``max_per_app`` (one transaction)."""
        row = (
            entry.entry_id,
            entry.app_id,
            entry.session_id,
            _to_us(entry.created_at),
            _to_us(entry.expires_at),
            _dump(entry.data),
        )

        def push(conn: sqlite3.Connection) -> int:
            def body() -> int:
                conn.execute(
                    """INSERT INTO notification_buffer
                       (entry_id, app_id, session_id, created_at, expires_at, data)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    row,
                )
                return conn.execute(
                    """DELETE FROM notification_buffer WHERE seq IN (
                           SELECT seq FROM notification_buffer WHERE app_id = ?
                           ORDER BY created_at DESC, seq DESC LIMIT -1 OFFSET ?)""",
                    (entry.app_id, max_per_app),
                ).rowcount

            return self.transaction(conn, body)

        return await self._run(push, "transaction")

    async def drain_notifications(
        self, app_id: str, *, session_id: str | None, now: datetime
    ) -> list[BufferedNotification]:
        """Remove and return the consumer's unexpired entries, oldest first."""
        now_us = _to_us(now)

        def drain(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            def body() -> list[sqlite3.Row]:
                conn.execute(
                    "DELETE FROM notification_buffer WHERE app_id = ? AND expires_at <= ?",
                    (app_id, now_us),
                )
                where = """app_id = ? AND (? IS NULL OR session_id IS NULL OR session_id = ?)"""
                args = (app_id, session_id, session_id)
                rows = conn.execute(
                    # Creation order, not insertion order: entries put back by a
                    # consumer that left keep their place.
                    f"SELECT * FROM notification_buffer WHERE {where} "  # noqa: S608
                    "ORDER BY created_at, seq",
                    args,
                ).fetchall()
                conn.execute(f"DELETE FROM notification_buffer WHERE {where}", args)  # noqa: S608
                return rows

            return self.transaction(conn, body)

        return [_entry(row, now) for row in await self._run(drain, "transaction")]

    async def count_notifications(self, app_id: str, *, now: datetime) -> int:
        """Unexpired entries waiting for ``app_id``."""
        count: int = await self._run(
            lambda conn: conn.execute(
                "SELECT COUNT(*) FROM notification_buffer WHERE app_id = ? AND expires_at > ?",
                (app_id, _to_us(now)),
            ).fetchone()[0]
        )
        return count

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"
