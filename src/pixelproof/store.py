"""SQLite store: the response cache, the usage log and batch runs.

One file (``$PIXELPROOF_HOME`` or the user data dir, or ``--cache-dir``), WAL journal, each
write its own transaction, so a process killed at any moment loses nothing committed. The
schema grows by named migrations, applied once each and recorded (as sqlite-utils does).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError, StoreError
from .types import Request, Response, Usage


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


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_cache, _m002_usage, _m003_runs]


@dataclass(frozen=True)
class UsageRow:
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: str | Path | None = None, *, cache: bool = True) -> None:
        """``cache=False`` still logs usage and keeps runs, but never answers from the cache."""
        self.path = Path(path) if path else self.default_path()
        self.use_cache = cache
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                      timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{self.path}: cannot open the pixelproof store ({e}). Check the "
                             "folder is writable, or pass --cache-dir.") from None
        self._lock = threading.Lock()
        self._migrate()

    @staticmethod
    def default_path(cache_dir: str | Path | None = None) -> Path:
        home = cache_dir or os.environ.get("PIXELPROOF_HOME") or platformdirs.user_data_dir(
            "pixelproof")
        return Path(home) / "pixelproof.db"

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        with self._lock:
            self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, "
                            "applied TEXT NOT NULL)")
            done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
            for migration in MIGRATIONS:
                if migration.__name__ not in done:
                    self.db.execute("BEGIN IMMEDIATE")
                    try:
                        migration(self.db)
                        self.db.execute("INSERT INTO migrations VALUES (?, ?)",
                                        (migration.__name__, _now()))
                        self.db.execute("COMMIT")
                    except BaseException:
                        self.db.execute("ROLLBACK")
                        raise

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        with self._lock:
            self.db.execute(sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # --- response cache ---------------------------------------------------------------------

    def cached(self, key: str) -> Response | None:
        if not self.use_cache:
            return None
        rows = self._rows("SELECT response FROM cache WHERE key = ?", (key,))
        if not rows:
            return None
        data = json.loads(rows[0][0])
        return Response(text=data["text"], model=data["model"], usage=Usage(**data["usage"]),
                        finish_reason=data["finish_reason"], cost=Decimal(0), cached=True)

    def remember(self, key: str, response: Response) -> None:
        data = {"text": response.text, "model": response.model,
                "usage": asdict(response.usage), "finish_reason": response.finish_reason}
        self._write("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)",
                    (key, json.dumps(data), _now()))

    # --- usage log --------------------------------------------------------------------------

    def record_usage(self, model: str, usage: Usage, cost: Decimal | None, *,
                     cached: bool = False) -> None:
        self._write("INSERT INTO usage (day, model, input_tokens, output_tokens, cached_tokens,"
                    " cost, cache_hit) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (date.today().isoformat(), model, usage.input_tokens, usage.output_tokens,
                     usage.cached_tokens, None if cost is None else str(cost), int(cached)))

    def usage_report(self, since: date | None = None) -> list[UsageRow]:
        out = []
        for day, model, n, hits, tin, tout, costs in self._rows(
                "SELECT day, model, COUNT(*), SUM(cache_hit), SUM(input_tokens),"
                " SUM(output_tokens), json_group_array(cost) FROM usage WHERE day >= ?"
                " GROUP BY day, model ORDER BY day, model",
                ((since or date.min).isoformat(),)):
            values = json.loads(costs)
            total = None if None in values else sum((Decimal(v) for v in values), Decimal(0))
            out.append(UsageRow(day, model, n, hits, tin, tout, total))
        return out

    # --- batch runs -------------------------------------------------------------------------

    def open_run(self, name: str, options: dict[str, Any]) -> bool:
        """Create run ``name``, or reopen it; True when it existed. Different options are an
        error naming them, so a resumed run cannot silently mix two kinds of results."""
        rows = self._rows("SELECT options FROM runs WHERE name = ?", (name,))
        if rows:
            old = json.loads(rows[0][0])
            changed = sorted(k for k in old.keys() | options.keys()
                             if old.get(k) != options.get(k))
            if changed:
                raise ConfigError(f"run '{name}' was started with other options "
                                  f"({', '.join(changed)}). Resume it with the same options, "
                                  "or pick a new --run name.")
            return True
        self._write("INSERT INTO runs (name, options, created) VALUES (?, ?, ?)",
                    (name, json.dumps(options, sort_keys=True, default=str), _now()))
        return False

    def add_items(self, run: str, keys: list[str]) -> None:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            start = self.db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM items WHERE run = ?",
                                    (run,)).fetchone()[0]
            self.db.executemany(
                "INSERT OR IGNORE INTO items (run, key, seq, status, attempts, updated)"
                " VALUES (?, ?, ?, 'pending', 0, ?)",
                [(run, key, start + n, _now()) for n, key in enumerate(keys)])
            self.db.execute("COMMIT")

    def items(self, run: str, status: str | None = None) -> list[RunItem]:
        rows = self._rows(
            "SELECT key, status, attempts, result, error, input_tokens, output_tokens, cost"
            " FROM items WHERE run = ? AND (? IS NULL OR status = ?) ORDER BY seq",
            (run, status, status))
        return [RunItem(key, st, attempts, None if result is None else json.loads(result), error,
                        Usage(tin or 0, tout or 0), None if cost is None else Decimal(cost))
                for key, st, attempts, result, error, tin, tout, cost in rows]

    def start(self, run: str, key: str) -> None:
        self._write("UPDATE items SET status = 'running', attempts = attempts + 1, updated = ?"
                    " WHERE run = ? AND key = ?", (_now(), run, key))

    def finish(self, run: str, key: str, result: Any, usage: Usage,
               cost: Decimal | None) -> None:
        self._write("UPDATE items SET status = 'done', result = ?, error = NULL,"
                    " input_tokens = ?, output_tokens = ?, cost = ?, updated = ?"
                    " WHERE run = ? AND key = ?",
                    (json.dumps(result, default=str), usage.input_tokens, usage.output_tokens,
                     None if cost is None else str(cost), _now(), run, key))

    def fail(self, run: str, key: str, error: str) -> None:
        self._write("UPDATE items SET status = 'failed', error = ?, updated = ?"
                    " WHERE run = ? AND key = ?", (error, _now(), run, key))

    def requeue(self, run: str) -> int:
        """Failed and interrupted items go back to pending; returns how many."""
        with self._lock:
            return self.db.execute("UPDATE items SET status = 'pending' WHERE run = ? AND"
                                   " status IN ('running', 'failed')", (run,)).rowcount

    def set_meta(self, run: str, name: str, value: Any) -> None:
        with self._lock:
            self.db.execute("UPDATE runs SET meta = json_set(meta, ?, json(?)) WHERE name = ?",
                            (f"$.{name}", json.dumps(value), run))

    def get_meta(self, run: str, name: str) -> Any:
        rows = self._rows("SELECT json_extract(meta, ?) FROM runs WHERE name = ?",
                          (f"$.{name}", run))
        value = rows[0][0] if rows else None
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value

    def runs(self) -> list[tuple[str, str, dict[str, int]]]:
        """(name, created, count per status) for every run, newest first."""
        out = []
        for name, created in self._rows("SELECT name, created FROM runs ORDER BY created DESC"):
            counts = dict(self._rows("SELECT status, COUNT(*) FROM items WHERE run = ?"
                                     " GROUP BY status", (name,)))
            out.append((name, created, counts))
        return out


def cache_key(request: Request, base_url: str) -> str:
    """What makes two requests the same: images (by sha256), model, endpoint, prompt, schema and
    options. Never the API key."""
    parts = {"images": [im.sha256 for im in request.images], "model": request.model,
             "base_url": base_url, "prompt": request.prompt, "system": request.system,
             "schema": request.json_schema, "detail": request.detail,
             "temperature": request.temperature, "max_tokens": request.max_tokens,
             "turns": [(t.role, t.text) for t in request.turns], "task": request.task}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
