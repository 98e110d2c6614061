"""SQLite store: the response cache, the usage log and batch runs.

One file (``--cache-dir DIR``, else ``$PIXELPROOF_HOME``, else the user data dir), WAL journal,
each write its own short transaction, so a process killed at any moment loses nothing committed
and never corrupts the file. The schema grows by named migrations, applied once each, in order,
and recorded in ``migrations`` (as sqlite-utils does). One connection, guarded by a lock, so the
event loop thread and worker threads can share a Store.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError, StoreError
from .types import Request, Response, Usage

STATUSES = ("pending", "running", "done", "failed")
BUSY_TIMEOUT_MS = 30_000


def _m001_cache(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE cache (key TEXT PRIMARY KEY, response TEXT NOT NULL,
                  created TEXT NOT NULL)""")


def _m002_usage(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE usage (id INTEGER PRIMARY KEY, day TEXT NOT NULL,
                  model TEXT NOT NULL, input_tokens INTEGER NOT NULL,
                  output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
                  cost TEXT, cache_hit INTEGER NOT NULL)""")
    db.execute("CREATE INDEX usage_day ON usage (day, model)")


def _m003_runs(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE runs (name TEXT PRIMARY KEY, options TEXT NOT NULL,
                  created TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}')""")
    db.execute("""CREATE TABLE items (run TEXT NOT NULL REFERENCES runs(name), key TEXT NOT NULL,
                  seq INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
                  result TEXT, error TEXT, input_tokens INTEGER, output_tokens INTEGER,
                  cost TEXT, updated TEXT NOT NULL, PRIMARY KEY (run, key))""")


def _m004_item_order_and_times(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX items_seq ON items (run, seq)")
    db.execute("ALTER TABLE items ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE usage ADD COLUMN at TEXT")


def _m005_ocr_reads(db: sqlite3.Connection) -> None:
    """What the local engine read from each image (zlib-compressed JSON, ocr.Raw), by the
    image's sha256 and the engine's settings: a re-run, a resumed batch or ``verify`` of the
    same image reads nothing again."""
    db.execute("""CREATE TABLE ocr (sha256 TEXT NOT NULL, engine TEXT NOT NULL,
                  raw BLOB NOT NULL, created TEXT NOT NULL, PRIMARY KEY (sha256, engine))""")


def _m006_corrections(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE corrections (id INTEGER PRIMARY KEY, run TEXT NOT NULL,
                  key TEXT NOT NULL, path TEXT NOT NULL, action TEXT NOT NULL, original TEXT,
                  value TEXT, status TEXT, at TEXT NOT NULL, undone INTEGER NOT NULL DEFAULT 0,
                  FOREIGN KEY (run, key) REFERENCES items (run, key))""")
    db.execute("CREATE INDEX corrections_item ON corrections (run, key, id)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_cache, _m002_usage, _m003_runs, _m004_item_order_and_times, _m005_ocr_reads,
    _m006_corrections]


@dataclass(frozen=True)
class UsageRow:
    """Spend of one model on one day. ``requests``, tokens and ``cost`` count what was sent to
    the provider; ``cached`` counts answers served from the cache (free). ``cost`` is None when
    any request's price is unknown."""

    day: str
    model: str
    requests: int
    cached: int
    input_tokens: int
    output_tokens: int
    cost: Decimal | None


@dataclass(frozen=True)
class RunItem:
    key: str
    status: str  # pending, running, done, failed
    attempts: int
    result: Any
    error: str | None
    usage: Usage
    cost: Decimal | None


@dataclass(frozen=True)
class RunSummary:
    """A run: its items by status, and its spend: what was paid for its items' answers, done
    or not (None when any price is unknown)."""

    name: str
    created: str
    counts: dict[str, int]
    spend: Decimal | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Correction:
    """A reviewer's decision on one value of a run's item: ``action`` is set (``value`` is
    the new value), accept, delete or add (``value`` is the new row); ``original`` is the value
    it had and ``status`` its verification status then."""

    id: int
    key: str
    path: str
    action: str
    original: Any
    value: Any
    status: str | None
    at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _money(text: str | None) -> Decimal | None:
    return None if text is None or text == "NaN" else Decimal(text)  # NaN: paid, price unknown


def _sum(costs: list[Decimal | None]) -> Decimal | None:
    return None if None in costs else sum(costs, Decimal(0))  # type: ignore[arg-type]


class Store:
    def __init__(self, path: str | Path | None = None, *, cache: bool = True) -> None:
        """Open (creating and migrating) the store at ``path`` (default: ``default_path()``).
        ``cache=False`` (``--no-cache``) makes ``cached()`` always miss; usage is still logged,
        fresh answers still cached, and runs kept."""
        self.path = Path(path) if path else self.default_path()
        self.use_cache = cache
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # answers read from people's documents: owner only
                self.path.touch(mode=0o600)
            self._conn = sqlite3.connect(self.path, check_same_thread=False,
                                         isolation_level=None,
                                         timeout=BUSY_TIMEOUT_MS / 1000)
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # durable across process kills
            self._conn.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{self.path}: cannot open the pixelproof store ({e}). Check the "
                             "folder is writable, or pass --cache-dir.") from e
        self._migrate()

    @classmethod
    def default_path(cls, cache_dir: str | Path | None = None) -> Path:
        """``cache_dir/pixelproof.db``, else ``$PIXELPROOF_HOME/pixelproof.db``, else the user
        data folder's."""
        home = cache_dir or os.environ.get("PIXELPROOF_HOME") or platformdirs.user_data_dir(
            "pixelproof")
        return Path(home) / "pixelproof.db"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; sqlite errors become StoreError."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: the pixelproof store failed ({e}). If another "
                                 "pixelproof is busy with it, try again; if the file is "
                                 "damaged, move it away or pass --cache-dir.") from e

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken up front so readers never need to upgrade."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, "
                       "applied TEXT NOT NULL)")
        for migration in MIGRATIONS:
            with self._tx() as db:  # checked inside: another process may have just applied it
                if db.execute("SELECT 1 FROM migrations WHERE name = ?",
                              (migration.__name__,)).fetchone():
                    continue
                migration(db)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (migration.__name__, _now()))

    # --- response cache ---------------------------------------------------------------------

    def cached(self, key: str) -> Response | None:
        """The remembered answer for ``key``: ``cached=True``, usage as recorded, cost 0."""
        if not self.use_cache:
            return None
        with self._db() as db:
            row = db.execute("SELECT response FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return Response(text=data["text"], model=data["model"], usage=Usage(**data["usage"]),
                        finish_reason=data["finish_reason"], cost=Decimal(0), cached=True)

    def remember(self, key: str, response: Response) -> None:
        """Keep the answer's text, model, usage and finish reason; never raw bodies, headers
        or keys."""
        u = response.usage
        data = {"text": response.text, "model": response.model,
                "usage": {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                          "cached_tokens": u.cached_tokens},
                "finish_reason": response.finish_reason}
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)",
                       (key, json.dumps(data), _now()))

    # --- OCR reads ---------------------------------------------------------------------------

    def get_read(self, sha256: str, engine: str) -> str | None:
        """The local engine's stored read of an image (``ocr.Raw`` as JSON), or None."""
        with self._db() as db:
            row = db.execute("SELECT raw FROM ocr WHERE sha256 = ? AND engine = ?",
                             (sha256, engine)).fetchone()
        return None if row is None else zlib.decompress(row[0]).decode()

    def put_read(self, sha256: str, engine: str, raw: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO ocr VALUES (?, ?, ?, ?)",
                       (sha256, engine, zlib.compress(raw.encode(), 6), _now()))

    # --- usage log --------------------------------------------------------------------------

    def record_usage(self, model: str, usage: Usage, cost: Decimal | None, *,
                     cached: bool = False, when: datetime | None = None) -> None:
        """One answer: sent (``cached=False``) or served from the cache. ``when`` defaults to
        now; its local date is the report's day."""
        when = when or datetime.now(UTC)
        day = (when.astimezone() if when.tzinfo else when).date().isoformat()
        with self._db() as db:
            db.execute("INSERT INTO usage (day, model, input_tokens, output_tokens, cached_tokens,"
                       " cost, cache_hit, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (day, model, usage.input_tokens, usage.output_tokens,
                        usage.cached_tokens, None if cost is None else str(cost), int(cached),
                        when.isoformat(timespec="seconds")))

    def usage_report(self, since: date | None = None) -> list[UsageRow]:
        """Per day and model, oldest first, from ``since`` (inclusive)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT day, model, SUM(1 - cache_hit), SUM(cache_hit),"
                " SUM(CASE cache_hit WHEN 0 THEN input_tokens ELSE 0 END),"
                " SUM(CASE cache_hit WHEN 0 THEN output_tokens ELSE 0 END),"
                " json_group_array(CASE cache_hit WHEN 0 THEN cost ELSE '0' END)"
                " FROM usage WHERE day >= ? GROUP BY day, model ORDER BY day, model",
                ((since or date.min).isoformat(),)).fetchall()
        return [UsageRow(day, model, sent, hits, tin, tout,
                         _sum([_money(c) for c in json.loads(costs)]))
                for day, model, sent, hits, tin, tout, costs in rows]

    # --- batch runs -------------------------------------------------------------------------

    def open_run(self, name: str, options: dict[str, Any]) -> bool:
        """Create run ``name``, or reopen it; True when it existed. Different options are a
        ConfigError naming them, so a resumed run cannot silently mix two kinds of results."""
        text = json.dumps(options, sort_keys=True, default=str)
        with self._tx() as db:
            row = db.execute("SELECT options FROM runs WHERE name = ?", (name,)).fetchone()
            if row is None:
                db.execute("INSERT INTO runs (name, options, created) VALUES (?, ?, ?)",
                           (name, text, _now()))
                return False
        old, new = json.loads(row[0]), json.loads(text)
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if changed:
            raise ConfigError(f"run '{name}' was started with other options "
                              f"({', '.join(changed)}). Resume it with the same options, "
                              "or pick a new run= name.")
        return True

    def add_items(self, run: str, keys: list[str]) -> None:
        """Add the keys not there yet as 'pending', after the others, in the order given."""
        with self._tx() as db:
            self._need_run(db, run)
            start = db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM items WHERE run = ?",
                               (run,)).fetchone()[0]
            now = _now()
            db.executemany(
                "INSERT OR IGNORE INTO items (run, key, seq, status, attempts, updated)"
                " VALUES (?, ?, ?, 'pending', 0, ?)",
                [(run, key, start + n, now) for n, key in enumerate(keys)])

    def items(self, run: str, status: str | None = None) -> list[RunItem]:
        """The run's items in input order, all or those with ``status``."""
        if status is not None and status not in STATUSES:
            raise ConfigError(f"unknown item status '{status}'; use one of "
                              f"{', '.join(STATUSES)}.")
        with self._db() as db:
            rows = db.execute(
                "SELECT key, status, attempts, result, error, input_tokens, output_tokens,"
                " cached_tokens, cost FROM items WHERE run = ? AND (? IS NULL OR status = ?)"
                " ORDER BY seq", (run, status, status)).fetchall()
        return [RunItem(key, st, attempts, None if result is None else json.loads(result), error,
                        Usage(tin or 0, tout or 0, cached or 0), _money(cost))
                for key, st, attempts, result, error, tin, tout, cached, cost in rows]

    def start(self, run: str, key: str) -> None:
        """The item is being asked: 'running', one more attempt."""
        self._update(run, key, "status = 'running', attempts = attempts + 1", ())

    def finish(self, run: str, key: str, result: Any, usage: Usage,
               cost: Decimal | None) -> None:
        """The item is done: its result (as JSON), usage and cost are kept."""
        self._update(run, key, "status = 'done', result = ?, error = NULL, input_tokens = ?,"
                     " output_tokens = ?, cached_tokens = ?, cost = ?",
                     (json.dumps(result, default=str), usage.input_tokens, usage.output_tokens,
                      usage.cached_tokens, None if cost is None else str(cost)))

    def paid(self, run: str, key: str, cost: Decimal | None) -> None:
        """What the item's answers have cost so far (None: a price not known), kept as they are
        paid, so a killed run's spend counts them when the answer later comes from the cache."""
        self._update(run, key, "cost = ?", ("NaN" if cost is None else str(cost),))

    def fail(self, run: str, key: str, error: str) -> None:
        self._update(run, key, "status = 'failed', error = ?", (error,))

    def _update(self, run: str, key: str, sets: str, args: tuple[Any, ...]) -> None:
        with self._db() as db:
            n = db.execute(f"UPDATE items SET {sets}, updated = ? WHERE run = ? AND key = ?",
                           (*args, _now(), run, key)).rowcount
        if n == 0:
            raise StoreError(f"run '{run}' has no item '{key}'; add it with add_items first.")

    def requeue(self, run: str) -> int:
        """Failed and interrupted ('running') items go back to 'pending'; returns how many."""
        with self._db() as db:
            return db.execute("UPDATE items SET status = 'pending', updated = ? WHERE run = ?"
                              " AND status IN ('running', 'failed')", (_now(), run)).rowcount

    def set_meta(self, run: str, name: str, value: Any) -> None:
        """Keep a JSON value with the run (e.g. the OpenAI batch ids, to resume them)."""
        with self._tx() as db:
            meta = json.loads(self._need_run(db, run))
            meta[name] = value
            db.execute("UPDATE runs SET meta = ? WHERE name = ?", (json.dumps(meta), run))

    def get_meta(self, run: str, name: str) -> Any:
        """The value set with ``set_meta``, or None."""
        with self._db() as db:
            row = db.execute("SELECT meta FROM runs WHERE name = ?", (run,)).fetchone()
        return json.loads(row[0]).get(name) if row else None

    @staticmethod
    def _need_run(db: sqlite3.Connection, run: str) -> str:
        """The run's meta; StoreError when there is no such run."""
        row = db.execute("SELECT meta FROM runs WHERE name = ?", (run,)).fetchone()
        if row is None:
            raise StoreError(f"no run named '{run}'; open it with open_run first.")
        return str(row[0])

    def run_options(self, run: str) -> dict[str, Any]:
        """The options ``run`` was opened with; StoreError when there is no such run."""
        with self._db() as db:
            row = db.execute("SELECT options FROM runs WHERE name = ?", (run,)).fetchone()
        if row is None:
            raise StoreError(f"no run named '{run}'. See `pixelproof runs list`.")
        return dict(json.loads(row[0]))

    # --- review -----------------------------------------------------------------------------

    def correct(self, run: str, key: str, path: str, action: str, *, original: Any = None,
                value: Any = None, status: str | None = None) -> Correction:
        """Keep one correction of item ``key`` of ``run``, timestamped."""
        at = _now()
        with self._db() as db:
            if not db.execute("SELECT 1 FROM items WHERE run = ? AND key = ?",
                              (run, key)).fetchone():
                raise StoreError(f"run '{run}' has no item '{key}'. See `pixelproof runs list`.")
            n = db.execute("INSERT INTO corrections (run, key, path, action, original, value,"
                           " status, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (run, key, path, action, json.dumps(original), json.dumps(value),
                            status, at)).lastrowid
        return Correction(int(n or 0), key, path, action, original, value, status, at)

    def corrections(self, run: str, key: str | None = None) -> list[Correction]:
        """The corrections in force (not undone) of ``run`` (of item ``key``), oldest first."""
        with self._db() as db:
            rows = db.execute("SELECT id, key, path, action, original, value, status, at FROM"
                              " corrections WHERE run = ? AND (? IS NULL OR key = ?) AND"
                              " undone = 0 ORDER BY id", (run, key, key)).fetchall()
        return [Correction(i, k, p, a, json.loads(o), json.loads(v), s, at)
                for i, k, p, a, o, v, s, at in rows]

    def undo(self, run: str, key: str) -> Correction | None:
        """Take back item ``key``'s latest correction in force; returns it (None: none left).
        It stays on record, marked undone."""
        latest = self.corrections(run, key)[-1:]
        if latest:
            with self._db() as db:
                db.execute("UPDATE corrections SET undone = 1 WHERE id = ?", (latest[0].id,))
        return latest[0] if latest else None

    def runs(self) -> list[RunSummary]:
        """Every run, newest first."""
        with self._db() as db:
            runs = db.execute("SELECT name, created FROM runs ORDER BY created DESC, name")\
                .fetchall()
            rows = db.execute("SELECT run, status, COUNT(*), json_group_array(cost) FROM items"
                              " GROUP BY run, status").fetchall()
        counts: dict[str, dict[str, int]] = {name: {} for name, _ in runs}
        spend: dict[str, Decimal | None] = {name: Decimal(0) for name, _ in runs}
        for run, status, n, costs in rows:
            counts.setdefault(run, {})[status] = n
            # done: NULL is a price not known; other items hold what was paid for them, if any
            paid = [_money(c) for c in json.loads(costs) if status == "done" or c is not None]
            spend[run] = _sum([spend.get(run), _sum(paid)])
        return [RunSummary(name, created, counts[name], spend[name]) for name, created in runs]


def cache_key(request: Request, target_id: str, base_url: str) -> str:
    """What makes two requests the same answer: the images (by sha256), model, endpoint,
    prompt, system, schema and options, as canonical JSON. Never the API key."""
    parts = {"v": 1, "images": [im.sha256 for im in request.images], "model": target_id,
             "base_url": base_url, "prompt": request.prompt, "system": request.system,
             "schema": request.json_schema, "schema_name": request.schema_name,
             "detail": request.detail, "temperature": request.temperature,
             "max_tokens": request.max_tokens,
             "turns": [[t.role, t.text] for t in request.turns], "task": request.task}
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
