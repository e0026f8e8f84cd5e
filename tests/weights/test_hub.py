"""URLs done properly: a real HTTP server on 127.0.0.1 serves checkpoints; the cache is keyed by
the whole URL, downloads are renamed into place when complete, bounded in size, checked against a
hash when asked, never written over a folder; file:// reads the local file; --data refuses URLs."""

from __future__ import annotations

import hashlib
import json
import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from efficientdet_adapter.weights.hub import cache_path, fetch
from efficientdet_adapter.base.errors import WeightsError

REPO = Path(__file__).resolve().parents[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    lie_length: set[str] = set()
    cut: set[str] = set()  # the length announced, half the body sent, the connection closed
    trickle: set[str] = set()  # 1 KB every 0.1 s, without end
    types: dict[str, str] = {}
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        if self.path in self.trickle:
            self.send_response(200)
            self.end_headers()
            while True:
                try:
                    self.wfile.write(b"t" * 1024)
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.1)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", self.types.get(self.path, "application/octet-stream"))
        if self.path not in self.lie_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path in self.cut else body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch, tmp_path):
    for name in ("EFFICIENTDET_ADAPTER_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    _Handler.files, _Handler.lie_length, _Handler.hits = {}, set(), []
    _Handler.cut, _Handler.trickle, _Handler.types = set(), set(), {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_same_file_name_on_two_urls_gives_two_cache_entries(server, tmp_path):
    base, handler = server
    handler.files = {"/a/x/model.pth": b"first model", "/b/y/model.pth": b"second model"}
    first = fetch(f"{base}/a/x/model.pth", root=tmp_path / "cache")
    second = fetch(f"{base}/b/y/model.pth", root=tmp_path / "cache")
    assert first.read_bytes() == b"first model" and second.read_bytes() == b"second model"
    assert first != second and first.name == second.name == "model.pth"
    assert first == cache_path(f"{base}/a/x/model.pth", tmp_path / "cache")
    assert first.parent.name == hashlib.sha256(f"{base}/a/x/model.pth".encode()).hexdigest()
    # cached: a second call does not download again
    assert fetch(f"{base}/a/x/model.pth", root=tmp_path / "cache") == first
    assert handler.hits == ["/a/x/model.pth", "/b/y/model.pth"]
    assert not [p for p in (tmp_path / "cache").rglob(".*")]  # no temporary file left


def test_a_url_without_a_file_name_never_writes_over_a_folder(server, tmp_path):
    base, handler = server
    handler.files = {"/": b"\x80weights"}
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    path = fetch(f"{base}/", root=hub)
    assert path.name == "download" and path.read_bytes() == b"\x80weights"
    assert (hub / "checkpoints").is_dir()  # torch hub's folder untouched


def test_size_limit_from_the_header_and_while_reading(server, tmp_path):
    base, handler = server
    handler.files = {"/big.pth": b"x" * 5000, "/liar.pth": b"y" * 5000}
    handler.lie_length = {"/liar.pth"}  # no Content-Length: counted while reading
    with pytest.raises(WeightsError, match=r"big\.pth: 5000 bytes, more than max_bytes=1000; "
                                           r"nothing downloaded"):
        fetch(f"{base}/big.pth", root=tmp_path, max_bytes=1000)
    with pytest.raises(WeightsError, match=r"liar\.pth: more than max_bytes=1000 bytes; download "
                                           r"stopped, nothing kept"):
        fetch(f"{base}/liar.pth", root=tmp_path, max_bytes=1000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_hash_checks_as_torch_hub(server, tmp_path):
    base, handler = server
    body = b"weights"
    digest = hashlib.sha256(body).hexdigest()
    handler.files = {f"/m-{digest[:8]}.pth": body, "/m-00000000.pth": body, "/plain.pth": body}
    good = fetch(f"{base}/m-{digest[:8]}.pth", root=tmp_path, check_hash=True)
    assert good.read_bytes() == body
    with pytest.raises(WeightsError, match=r"does not start with 00000000; nothing kept"):
        fetch(f"{base}/m-00000000.pth", root=tmp_path, check_hash=True)
    assert not cache_path(f"{base}/m-00000000.pth", tmp_path).exists()
    assert fetch(f"{base}/plain.pth", root=tmp_path, hash_prefix=digest[:12]).is_file()
    with pytest.raises(WeightsError, match=r"check_hash=True needs a file name holding its "
                                           r"SHA-256 prefix"):
        fetch(f"{base}/plain.pth", root=tmp_path / "other", check_hash=True)


def test_http_errors_and_other_schemes_are_one_clear_error(server, tmp_path):
    base, _ = server
    with pytest.raises(WeightsError, match=r"missing\.pth: the server answered HTTP 404"):
        fetch(f"{base}/missing.pth", root=tmp_path)
    with pytest.raises(WeightsError, match=r"ftp:// URLs are not read"):
        fetch("ftp://127.0.0.1/x.pth", root=tmp_path)


def test_offline_uses_only_the_cache(server, tmp_path, monkeypatch):
    base, handler = server
    handler.files = {"/m.pth": b"m"}
    monkeypatch.setenv("EFFICIENTDET_ADAPTER_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"not in the cache .* downloads are off"):
        fetch(f"{base}/m.pth", root=tmp_path)
    assert handler.hits == []


def test_model_from_checkpoint_of_urls(server, tmp_path):
    """Two checkpoints with the same file name on two URLs load as two different models;
    file:// reads the local file."""
    from efficientdet_adapter.checkpoint import model_from_checkpoint, save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.model.model import model

    base, handler = server
    files = {}
    for folder, names in (("a", ["cat", "dog"]), ("b", ["fox", "owl", "elk"])):
        cm = ClassMap(names)
        path = save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=len(cm),
                                     img_size=128, pretrained_backbone=False),
                               tmp_path / folder / "model.pt", cm)
        files[f"/{folder}/model.pt"] = path.read_bytes()
    handler.files = files
    first = model_from_checkpoint(f"{base}/a/model.pt")
    second = model_from_checkpoint(f"{base}/b/model.pt")
    assert first["class_map"].foreground == ["cat", "dog"]
    assert second["class_map"].foreground == ["fox", "owl", "elk"]
    local = model_from_checkpoint((tmp_path / "b" / "model.pt").as_uri())
    assert local["class_map"].foreground == ["fox", "owl", "elk"]
    assert sorted(handler.hits) == ["/a/model.pt", "/b/model.pt"]


def test_data_url_is_refused_plainly(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore::FutureWarning"}
    proc = subprocess.run([sys.executable, "-m", "efficientdet_adapter", "train", "--data",
                           "https://example.org/shapes.zip", "--out", str(tmp_path / "run")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "efficientdet-adapter train: error: --data https://example.org/shapes.zip: URLs are not "
        "accepted; download the export and give its folder or .zip"]
    assert not (tmp_path / "run").exists()


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def test_downloads_are_torch_hubs(server, tmp_path, monkeypatch):
    """``fetch`` downloads with ``torch.hub.download_url_to_file`` (issue 32), into a temporary
    file beside the cache entry."""
    import torch.hub

    base, handler = server
    handler.files = {"/m.pth": b"weights"}
    calls, real = [], torch.hub.download_url_to_file

    def spy(url, dst, *args, **kwargs):
        calls.append((url, Path(dst).name))
        return real(url, dst, *args, **kwargs)

    monkeypatch.setattr(torch.hub, "download_url_to_file", spy)
    path = fetch(f"{base}/m.pth", root=tmp_path)
    assert path.read_bytes() == b"weights"
    [(url, name)] = calls
    assert url == f"{base}/m.pth" and name.startswith(".m.pth.") and name.endswith(".tmp")


def test_a_cut_download_keeps_nothing_and_the_next_call_downloads_afresh(server, tmp_path):
    base, handler = server
    body = bytes(range(256)) * 40
    handler.files, handler.cut = {"/m.pth": body}, {"/m.pth"}
    url = f"{base}/m.pth"
    with pytest.raises(WeightsError) as e:
        fetch(url, root=tmp_path)
    assert str(e.value) == (f"{url}: the connection closed after 5120 of the 10240 bytes "
                            "announced; nothing kept, run again")
    assert _files(tmp_path) == []  # neither the half file nor a temporary one
    handler.cut = set()  # the server is fixed
    assert fetch(url, root=tmp_path).read_bytes() == body
    assert handler.hits == ["/m.pth", "/m.pth"]


def test_an_endless_trickle_is_cut_off_by_the_time_limit(server, tmp_path):
    base, handler = server
    handler.trickle = {"/slow.pth"}
    with pytest.raises(WeightsError, match=r"slow\.pth: the download took longer than "
                                           r"time_limit=0\.5 s \(\d+ bytes so far\); nothing kept"):
        fetch(f"{base}/slow.pth", root=tmp_path, time_limit=0.5)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("content_type, body, why", [
    ("text/html; charset=utf-8", b"<p>Sign in to the hotel wifi</p>", "Content-Type text/html"),
    ("application/octet-stream", b"\n  <!DOCTYPE html><html>login</html>",
     "its body starts with an HTML tag"),
])
def test_an_html_page_answered_with_200_is_refused(server, tmp_path, content_type, body, why):
    base, handler = server
    handler.files, handler.types = {"/m.pth": body}, {"/m.pth": content_type}
    with pytest.raises(WeightsError) as e:
        fetch(f"{base}/m.pth", root=tmp_path)
    assert str(e.value) == (
        f"{base}/m.pth: the server answered with an HTML page ({why}), not a file; a login or "
        "captive-portal page, or a link to a web page? Open the URL in a browser and give the "
        "direct link to the file")
    assert _files(tmp_path) == []


def test_a_url_without_a_file_name_is_named_in_the_error(server):
    """``model_from_checkpoint('http://host:port/')``: the line names the URL, not the cache."""
    from efficientdet_adapter.checkpoint import model_from_checkpoint
    from efficientdet_adapter.base.errors import CheckpointError

    base, handler = server
    handler.files, handler.types = {"/": b"<html>Directory listing</html>"}, {"/": "text/html"}
    with pytest.raises(WeightsError, match=rf"^{base}/: the server answered with an HTML page"):
        model_from_checkpoint(f"{base}/")
    handler.files, handler.types = {"/": b"\x00 not a checkpoint"}, {}
    with pytest.raises(CheckpointError) as e:
        model_from_checkpoint(f"{base}/")
    assert str(e.value).startswith(f"{base}/: not a readable PyTorch checkpoint")


def test_the_cli_takes_checkpoint_urls(server, tmp_path, monkeypatch, capsys):
    """``predict``/``eval``/``export --checkpoint http://...`` read the URL through the cache
    (downloaded once); the export lands in the current folder under the URL's file name."""
    from PIL import Image

    from efficientdet_adapter.app import cli
    from efficientdet_adapter.checkpoint import save_checkpoint
    from efficientdet_adapter.records.class_map import ClassMap
    from efficientdet_adapter.app.demo import DEMO_CLASSES, write_demo_dataset
    from efficientdet_adapter.model.model import model

    base, handler = server
    ckpt = save_checkpoint(model(model_name="tf_efficientdet_lite0", num_classes=5,
                                 img_size=128, pretrained_backbone=False),
                           tmp_path / "served.pt", ClassMap(list(DEMO_CLASSES)))
    handler.files = {"/models/shapes.pt": ckpt.read_bytes()}
    url = f"{base}/models/shapes.pt"
    Image.new("RGB", (64, 48)).save(tmp_path / "a.png")
    assert cli.main(["predict", str(tmp_path / "a.png"), "--checkpoint", url, "--out",
                     str(tmp_path / "preds"), "--no-images"]) == 0
    assert (tmp_path / "preds" / "predictions.json").is_file()
    data = write_demo_dataset(tmp_path / "shapes", num_images=10, seed=1)
    assert cli.main(["eval", "--data", str(data), "--checkpoint", url, "--split", "test",
                     "--out", str(tmp_path / "metrics.json")]) == 0
    assert "AP (IoU=0.50) area=all" in json.loads((tmp_path / "metrics.json").read_text())
    real = torch.export.export  # the tracing is tested elsewhere: a one-op program here
    monkeypatch.setattr(torch.export, "export",
                        lambda *a, **k: real(torch.nn.Identity(), (torch.zeros(2),)))
    monkeypatch.chdir(tmp_path / "preds")
    assert cli.main(["export", "--checkpoint", url, "--format", "torch-export"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "wrote shapes.pt2, a torch.export program")
    assert (tmp_path / "preds" / "shapes.pt2").is_file()
    assert handler.hits == ["/models/shapes.pt"]  # downloaded once, then read from the cache
    handler.files = {}
    assert cli.main(["export", "--checkpoint", f"{base}/models/other.pt"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"efficientdet-adapter export: error: {base}/models/other.pt: the server answered "
        "HTTP 404 (Not Found); check the URL")
