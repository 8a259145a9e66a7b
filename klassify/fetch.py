"""Download pages politely for ``klassify predict --fetch``: a few at a time, a pause between requests to
one host, a timeout, retries with back-off, a User-Agent that names klassify, and robots.txt honoured.

Only the standard library (``urllib``, a thread pool, ``urllib.robotparser``), so fetching needs no extra.
Every URL gives one :class:`~klassify.records.Record`, in input order; a page that cannot be fetched is
an error record with the HTTP ``status`` when there was one.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, build_opener
from urllib.robotparser import RobotFileParser

from . import __version__
from .readers.base import MAX_FILE_BYTES, Record

USER_AGENT = f"klassify/{__version__} (Korean public-sector page classifier; python-urllib)"
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class FetchSettings:
    concurrency: int = 4  # requests in flight at once, over all hosts
    delay: float = 1.0  # seconds between two requests to one host (robots.txt's Crawl-delay if longer)
    timeout: float = 20.0  # seconds for connecting and for each read
    retries: int = 2  # further tries after a network error, a timeout, 429 or 5xx
    backoff: float = 1.0  # the first retry waits this long, each next one twice as long
    robots: bool = True
    user_agent: str = USER_AGENT
    max_bytes: int = MAX_FILE_BYTES


class _Retryable(Exception):
    def __init__(self, message: str, status: int | None = None, wait: float | None = None):
        super().__init__(message)
        self.status, self.wait = status, wait


class Fetcher:
    def __init__(self, settings: FetchSettings | None = None):
        self.settings = settings or FetchSettings()
        self._opener = build_opener()  # follows redirects; final_url says where it ended
        self._lock = threading.Lock()
        self._next_turn: dict[str, float] = {}
        self._host_delay: dict[str, float] = {}
        self._robots: dict[str, RobotFileParser] = {}
        self._robots_locks: dict[str, threading.Lock] = {}

    def records(self, urls):
        """One record per item of ``urls`` (URL strings, or error records passed through), in order."""
        window = 4 * self.settings.concurrency  # fetched ahead of the consumer, no more
        with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="klassify-fetch") as pool:
            pending: deque = deque()
            for item in urls:
                pending.append(pool.submit(self.fetch, item) if isinstance(item, str) else item)
                while len(pending) > window:
                    yield _done(pending.popleft())
            while pending:
                yield _done(pending.popleft())

    def fetch(self, url: str) -> Record:
        """Download one page (never raises: failures are the record's ``error``)."""
        try:
            host = urlsplit(url).netloc.lower()
        except ValueError as e:
            return Record(url, error=f"not a valid URL: {e}", url=url)
        if self.settings.robots and not self._allowed(url, host):
            return Record(url, error="robots.txt disallows this URL (--ignore-robots to fetch it anyway)", url=url)
        for attempt in range(self.settings.retries + 1):
            self._wait_turn(host)
            try:
                return self._get(url)
            except _Retryable as e:
                failure = e
                if attempt < self.settings.retries:
                    time.sleep(e.wait if e.wait is not None else self.settings.backoff * 2**attempt)
        tries = self.settings.retries + 1
        return Record(url, error=f"{failure} ({tries} {'try' if tries == 1 else 'tries'})", url=url, status=failure.status)

    def _get(self, url: str) -> Record:
        request = Request(url, headers={"User-Agent": self.settings.user_agent,
                                        "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1"})
        try:
            with self._opener.open(request, timeout=self.settings.timeout) as response:
                return self._read(url, response)
        except HTTPError as e:
            if e.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {e.code} {e.reason}", e.code, _retry_after(e.headers.get("Retry-After"))) from None
            return Record(url, error=f"HTTP {e.code} {e.reason}", url=url, final_url=e.geturl(), status=e.code)
        except (socket.timeout, TimeoutError):
            raise _Retryable(f"timed out after {self.settings.timeout:g} s") from None
        except URLError as e:
            reason = e.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise _Retryable(f"timed out after {self.settings.timeout:g} s") from None
            raise _Retryable(f"cannot connect: {reason}") from None
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            raise _Retryable(f"connection failed: {type(e).__name__}: {e}") from None

    def _read(self, url: str, response) -> Record:
        final_url, status = response.geturl(), response.status
        content_type = response.headers.get_content_type()
        if content_type not in TEXT_TYPES:
            return Record(url, error=f"not a text page: content type {content_type}", url=url, final_url=final_url,
                          status=status)
        body = response.read(self.settings.max_bytes + 1)
        if len(body) > self.settings.max_bytes:
            return Record(url, error=f"page is over the {self.settings.max_bytes // 2**20} MiB limit", url=url,
                          final_url=final_url, status=status)
        return Record(url, body, html=content_type != "text/plain", url=url, final_url=final_url, status=status,
                      encoding=response.headers.get_content_charset())

    # --- politeness ------------------------------------------------------------------------------

    def _wait_turn(self, host: str) -> None:
        """Sleep until this host's next free slot, and book the one after it."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next_turn.get(host, 0.0))
            self._next_turn[host] = turn + self._host_delay.get(host, self.settings.delay)
        if turn > now:
            time.sleep(turn - now)

    def _allowed(self, url: str, host: str) -> bool:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            lock = self._robots_locks.setdefault(root, threading.Lock())
        with lock:  # one robots.txt download per site, even with many workers
            if root not in self._robots:
                self._robots[root] = self._load_robots(root, host)
        return self._robots[root].can_fetch(self.settings.user_agent, url)

    def _load_robots(self, root: str, host: str) -> RobotFileParser:
        rules = RobotFileParser(root + "/robots.txt")
        self._wait_turn(host)
        try:
            request = Request(root + "/robots.txt", headers={"User-Agent": self.settings.user_agent})
            with self._opener.open(request, timeout=self.settings.timeout) as response:
                rules.parse(response.read(500_000).decode("utf-8", errors="replace").splitlines())
        except HTTPError as e:
            # As robotparser does: 401/403 mean keep out; any other error means there are no rules.
            rules.disallow_all = e.code in (401, 403)
            rules.allow_all = not rules.disallow_all
        except (OSError, ValueError, http.client.HTTPException):
            rules.allow_all = True  # unreachable: the page's own download will report why
        crawl_delay = rules.crawl_delay(self.settings.user_agent) if rules.mtime() else None
        if crawl_delay:
            with self._lock:
                self._host_delay[host] = max(self.settings.delay, min(float(crawl_delay), 60.0))
        return rules


def _done(item) -> Record:
    return item.result() if isinstance(item, Future) else item


def _retry_after(value: str | None) -> float | None:
    """Seconds from a numeric Retry-After header, capped at a minute (dates and junk: None)."""
    try:
        return min(max(float(value), 0.0), 60.0) if value else None
    except ValueError:
        return None
