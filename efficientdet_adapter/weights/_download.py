"""One download, by torch.hub's ``download_url_to_file``, with the checks it lacks.

``torch.hub.download_url_to_file`` streams to a temporary file, checks a SHA-256 prefix, shows a
progress bar and moves the file into place only when the body ended. It does not notice a body
cut short (``http.client`` reads a closed connection as the end), stops at no size or time limit,
and keeps whatever a server answers with 200, a captive portal's HTML page included. It opens the
URL with urllib's global opener, so `download` installs, for the duration of the call, an
opener whose `_Guard` handler wraps this thread's response in `_Checked`; that
raises a [`WeightsError`][efficientdet_adapter.base.errors.WeightsError] from inside the read, torch
removes
its temporary file, and the caller's target is never written. urllib's handler chain is its
documented extension point; the earlier opener is put back afterwards (under a lock: one guarded
download at a time).

Example:
    >>> download("https://example.org/m.pth", Path("m.pth"), Limits(max_bytes=2**30))
    ... # doctest: +SKIP
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from efficientdet_adapter.base.atomic import atomic_save
from efficientdet_adapter.base.errors import WeightsError

__all__ = ["Limits", "download"]

_HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.IGNORECASE)
_OPENER_LOCK = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """What one download may take.

    Attributes:
        max_bytes: the largest body accepted.
        time_limit: seconds for the whole download (a body that trickles in is stopped).
        timeout: seconds a single read may wait for data.
    """

    max_bytes: int
    time_limit: float = 1800.0
    timeout: float = 60.0
    thread: int = field(default_factory=threading.get_ident)


class _Checked:
    """A response that raises instead of ending quietly: past the size or the time limit, at a
    close before the announced length, or when the body is an HTML page."""

    def __init__(self, response: Any, url: str, limits: Limits):
        self._response, self._url, self._limits = response, url, limits
        self._deadline = time.monotonic() + limits.time_limit
        self._size = 0
        length = response.headers.get("Content-Length")
        self._length = int(length) if length is not None and length.strip().isdigit() else None
        kind = response.headers.get_content_type()
        if kind in ("text/html", "application/xhtml+xml"):
            raise self._html(f"Content-Type {kind}")
        if self._length is not None and self._length > limits.max_bytes:
            raise WeightsError(f"{url}: {self._length} bytes, more than max_bytes="
                               f"{limits.max_bytes}; nothing downloaded (raise max_bytes if you "
                               "trust it)")

    def _html(self, why: str) -> WeightsError:
        return WeightsError(f"{self._url}: the server answered with an HTML page ({why}), not a "
                            "file; a login or captive-portal page, or a link to a web page? "
                            "Open the URL in a browser and give the direct link to the file")

    def info(self) -> Any:
        return self._response.info()

    def read(self, amount: int = -1) -> bytes:
        if time.monotonic() > self._deadline:
            raise WeightsError(f"{self._url}: the download took longer than time_limit="
                               f"{self._limits.time_limit:g} s ({self._size} bytes so far); "
                               "nothing kept. Retry on a faster connection, or raise time_limit")
        try:
            data = self._response.read(amount)
        except (TimeoutError, socket.timeout):
            raise WeightsError(f"{self._url}: no data for {self._limits.timeout:g} s after "
                               f"{self._size} bytes; nothing kept, retry later") from None
        if self._size == 0 and _HTML_START.match(data[:512]):
            raise self._html("its body starts with an HTML tag")
        self._size += len(data)
        if self._size > self._limits.max_bytes:
            raise WeightsError(f"{self._url}: more than max_bytes={self._limits.max_bytes} bytes; "
                               "download stopped, nothing kept")
        if not data and amount != 0 and self._length is not None and self._size < self._length:
            raise WeightsError(f"{self._url}: the connection closed after {self._size} of the "
                               f"{self._length} bytes announced; nothing kept, run again")
        return data

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> _Checked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Guard(urllib.request.BaseHandler):
    """Gives this download's requests their read timeout and wraps their 2xx responses."""

    handler_order = 1001  # after HTTPErrorProcessor: redirects are followed first

    def __init__(self, url: str, limits: Limits):
        self._url, self._limits = url, limits

    def _ours(self) -> bool:
        return threading.get_ident() == self._limits.thread

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        if self._ours():
            request.timeout = self._limits.timeout  # torch.hub opens the URL with no timeout
        return request

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        if not self._ours() or isinstance(response, _Checked) or not 200 <= response.status < 300:
            return response
        return _Checked(response, self._url, self._limits)

    https_request = http_request
    https_response = http_response


@contextmanager
def _guarded(url: str, limits: Limits):
    with _OPENER_LOCK:
        previous = urllib.request._opener  # urllib offers no getter for the global opener
        urllib.request.install_opener(urllib.request.build_opener(_Guard(url, limits)))
        try:
            yield
        finally:
            urllib.request.install_opener(previous)


def download(url: str, target: Path, limits: Limits, *, hash_prefix: str | None = None,
             progress: bool = False) -> Path:
    """Download ``url`` to ``target`` with torch.hub, within ``limits``; ``target`` is written
    (atomically) only when the whole body arrived and matched ``hash_prefix``.

    Raises:
        WeightsError: an HTTP error, a cut connection, a limit passed, an HTML page, another hash.
    """
    import torch.hub  # noqa: PLC0415

    def write(tmp: Path) -> None:
        try:
            torch.hub.download_url_to_file(url, str(tmp), hash_prefix=hash_prefix,
                                           progress=progress)
        except urllib.error.HTTPError as e:
            raise WeightsError(f"{url}: the server answered HTTP {e.code} ({e.reason}); check "
                               "the URL") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                TimeoutError) as e:
            reason = getattr(e, "reason", None) or e
            raise WeightsError(f"{url}: download failed ({reason}); check the URL and the "
                               "connection") from None
        except RuntimeError as e:  # torch.hub's hash mismatch
            if "invalid hash value" not in str(e):
                raise
            raise WeightsError(f"{url}: the download's SHA-256 does not start with "
                               f"{hash_prefix}; nothing kept") from None

    with _guarded(url, limits):
        atomic_save(target, write)  # a full disk: SaveError, nothing kept under ``target``
    return target
