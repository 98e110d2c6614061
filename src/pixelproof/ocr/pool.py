"""The worker pool: pages read in worker processes, each building the engine once.

Each page goes to one worker, with the cores shared out between the workers (onnxruntime
threads = cores // workers). A worker that dies, or takes longer than the time limit over a
page (hung, or stopped), is killed and replaced, and the page retried once on the new one; a
second failure fails that page alone.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from ..errors import ConfigError, OcrError
from ..images import to_pil
from ..types import Image
from .engine import SETTINGS, RapidEngine, engine, engine_error, worker_read
from .layout import Raw

# Memory one worker takes with the models loaded and pages in flight (bench/pipeline.py,
# 2026-11: 555 and 583 MB peak RSS for its two workers on pages 456-1408 px wide); the
# default pool starts no more workers than the available memory holds at this much each.
WORKER_MB = 600
# The longest a worker may take over a page before it is taken for hung: this many seconds per
# 4 megapixels (at least this many; ``$PIXELPROOF_OCR_TIMEOUT`` sets it). Measured 2026-11 on
# one onnxruntime thread of the 2-core machine at load average 6: a 2.7 Mpx statement of 30
# rows 8.0 s, a 32 Mpx mosaic of twelve 12.7 s (the detector sees it scaled down).
READ_SECONDS = 120.0
START_SECONDS = 120.0  # the longest a new worker may take to load its models


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _available_mb() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def default_workers() -> int:
    """``$PIXELPROOF_OCR_WORKERS``, else one per core, fewer when the available memory does
    not hold WORKER_MB for each. 0 reads in this process (no pool)."""
    env = os.environ.get("PIXELPROOF_OCR_WORKERS", "").strip()
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            raise ConfigError(f"PIXELPROOF_OCR_WORKERS={env!r} is not a number; set it to "
                              "the number of OCR worker processes (0: read in-process).") \
                from None
    n = cores()
    mb = _available_mb()
    return max(1, min(n, mb // WORKER_MB)) if mb is not None else n


def read_seconds() -> float:
    """``$PIXELPROOF_OCR_TIMEOUT``, else READ_SECONDS."""
    env = os.environ.get("PIXELPROOF_OCR_TIMEOUT", "").strip()
    try:
        seconds = float(env) if env else READ_SECONDS
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"PIXELPROOF_OCR_TIMEOUT={env!r} is not a positive number of seconds "
                          "(the longest an OCR worker may take over a page of 4 megapixels).")
    return seconds


def serve(threads: int) -> None:
    """A worker process: build the engine, say so (an empty message), then read pages sent on
    stdin, answering on stdout (each message a pickle with its length in front), until stdin
    closes."""
    import pickle
    import struct

    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the answers
    if os.environ.get("PIXELPROOF_DEBUG"):  # the engine's log lines, as the parent shows them
        logging.basicConfig(format="%(name)s: %(levelname)s: %(message)s")
        logging.getLogger("pixelproof").setLevel(logging.DEBUG)
    requests = os.fdopen(0, "rb")
    engine_ = RapidEngine({**SETTINGS, "EngineConfig.onnxruntime.intra_op_num_threads": threads})
    reply.write(struct.pack("<Q", 0))
    reply.flush()
    while head := requests.read(8):
        page = pickle.loads(requests.read(struct.unpack("<Q", head)[0]))
        data = pickle.dumps(worker_read(engine_, page), protocol=pickle.HIGHEST_PROTOCOL)
        reply.write(struct.pack("<Q", len(data)) + data)
        reply.flush()


def _wait(fd: int, event: int, deadline: float) -> bool:
    """Whether ``fd`` is ready for ``event`` by ``deadline`` (poll: any fd number, unlike
    select's 1024)."""
    poll = select.poll()
    poll.register(fd, event)
    return bool(poll.poll(max(0.0, deadline - time.monotonic()) * 1000))


class _Hung(Exception):
    """The worker gave no answer within the time limit."""


class Worker:
    """One worker process and the thread that feeds it pages from the pool's queue. A worker
    that dies or hangs is replaced, and its page retried once on the new one."""

    def __init__(self, pool: Pool, n: int) -> None:
        self.pool = pool
        self.proc: Any = None
        self.thread = threading.Thread(target=self._loop, name=f"pixelproof-ocr-{n}",
                                       daemon=True)
        self.thread.start()

    def _start(self) -> Any:
        import subprocess
        import sys

        here = str(Path(__file__).resolve().parents[2])  # the folder holding pixelproof
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [here] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
        threads = max(1, cores() // self.pool.workers)
        return subprocess.Popen(
            [sys.executable, "-c", f"from pixelproof.ocr.pool import serve; serve({threads})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)

    def _ask(self, page: Image | PILImage.Image, seconds: float) -> tuple[bool, Any]:
        """Send one page and wait for the answer, both within ``seconds``; EOFError/OSError
        when the worker died, _Hung when it took longer."""
        import pickle
        import struct

        self._ready()
        data = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        deadline = time.monotonic() + seconds
        self._write(struct.pack("<Q", len(data)) + data, deadline)
        return pickle.loads(self._receive(deadline))

    def _ready(self) -> None:
        """This worker, or a new one, with its models loaded."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
            os.set_blocking(self.proc.stdin.fileno(), False)  # writes wait in _write
            self._receive(time.monotonic() + START_SECONDS)

    def _write(self, data: bytes, deadline: float) -> None:
        fd, left = self.proc.stdin.fileno(), memoryview(data)
        while left:
            if not _wait(fd, select.POLLOUT, deadline):
                raise _Hung
            try:
                left = left[os.write(fd, left):]
            except BlockingIOError:
                continue

    def _receive(self, deadline: float) -> bytes:
        """One message from the worker (its length, then the pickle), by ``deadline``."""
        import struct

        size = struct.unpack("<Q", self._read(8, deadline))[0]
        return self._read(size, deadline)

    def _read(self, size: int, deadline: float) -> bytes:
        fd, got = self.proc.stdout.fileno(), bytearray()
        while len(got) < size:
            if not _wait(fd, select.POLLIN, deadline):
                raise _Hung
            chunk = os.read(fd, size - len(got))
            if not chunk:
                raise EOFError
            got += chunk
        return bytes(got)

    def _loop(self) -> None:
        while (job := self.pool.jobs.get()) is not None:
            page, out = job
            if not out.set_running_or_notify_cancel():
                continue
            seconds = self.pool.seconds * max(1.0, page.width * page.height / 4e6)
            for tries in (0, 1):
                self.pool.count()
                try:
                    ok, answer = self._ask(page, seconds)
                except (EOFError, OSError, _Hung) as e:
                    self._stop(kill=True)
                    if self.pool.closed:
                        out.set_exception(OcrError("the OCR pool was shut down while reading "
                                                   "the page."))
                        break
                    self.pool.restarts += 1
                    if tries == 0:
                        continue
                    label = page.label if isinstance(page, Image) else "an image"
                    out.set_exception(OcrError(
                        f"{label}: the OCR worker took over {seconds:.0f} s reading it, twice, "
                        "and was stopped. Crop or resize the image, or give it more time with "
                        "PIXELPROOF_OCR_TIMEOUT (seconds per 4 megapixels)." if
                        isinstance(e, _Hung) else
                        f"{label}: the OCR worker process died reading it, twice. The page "
                        "may be too big for the memory left: try --ocr-workers 1."))
                    break
                except Exception as e:  # a page that cannot be sent: its item fails, not the pool
                    self._stop(kill=True)
                    out.set_exception(OcrError(f"the page could not be sent to the OCR worker "
                                               f"({type(e).__name__}: {e})."))
                    break
                if ok:
                    out.set_result(answer)
                else:
                    out.set_exception(engine_error(answer))
                break
        self._stop(kill=False)

    def _stop(self, kill: bool) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if kill:
                proc.kill()
            else:
                proc.stdin.close()
            proc.wait(timeout=10)
        except Exception:
            proc.kill()


class Pool:
    """``workers`` worker processes reading pages in turn from one queue (0: one thread of
    this process, with the process's engine). A worker starts on its first page, and may take
    ``seconds`` over a page of 4 megapixels (None: ``read_seconds()``), in proportion over a
    larger one, before it is taken for hung."""

    def __init__(self, workers: int, seconds: float | None = None) -> None:
        import queue

        self.workers = workers
        self.seconds = read_seconds() if seconds is None else seconds
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.calls = 0  # pages handed to the engine (a retry counts again)
        self.restarts = 0  # workers replaced after dying
        self._threads: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def count(self) -> None:
        with self._lock:
            self.calls += 1

    def submit(self, page: Image | PILImage.Image) -> Future[Raw]:
        out: Future[Raw] = Future()
        with self._lock:
            if self._closed:
                raise OcrError("the OCR pool was shut down; pixelproof.ocr.configure() starts "
                               "a new one.")
            if self.workers == 0:
                if not self._threads:
                    threading.Thread(target=self._in_process, daemon=True,
                                     name="pixelproof-ocr").start()
                    self._threads.append(None)  # type: ignore[arg-type]
            elif len(self._threads) < self.workers:
                self._threads.append(Worker(self, len(self._threads)))
        self.jobs.put((page, out))
        return out

    def _in_process(self) -> None:
        while (job := self.jobs.get()) is not None:
            page, out = job
            if out.set_running_or_notify_cancel():
                self.count()
                try:
                    out.set_result(engine().read_raw(
                        to_pil(page) if isinstance(page, Image) else page))
                except Exception as e:
                    out.set_exception(e)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers once the pages queued are read (``wait=False``: now, pages in
        flight abandoned, as at exit)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self.jobs.put(None)
        for worker in threads:
            if worker is None:
                continue
            if not wait and worker.proc is not None:
                worker.proc.kill()
            else:
                worker.thread.join(timeout=60)

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and benches)."""
        return [w.proc.pid for w in self._threads if w is not None and w.proc is not None]
