"""Small habits users bring from Ultralytics: --version, val, the check-images help (issue 31)."""

from __future__ import annotations

import re

import pytest

from efficientdet_adapter import __version__
from test_cli import assert_user_error, run


def test_version_prints_the_package_version():
    proc = run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"efficientdet-adapter {__version__}"


@pytest.mark.parametrize("command", ["eval", "val"])
def test_val_is_eval(tmp_path, command):
    proc = run(command, "--data", str(tmp_path), "--checkpoint", str(tmp_path / "none.pt"))
    assert_user_error(proc, rf"^efficientdet-adapter {command}: error: --checkpoint "
                            r".*none.pt: no such file; give the path of a model.pt")
    helped = run(command, "--help")
    assert helped.returncode == 0 and "--split {train,valid,test}" in helped.stdout


@pytest.mark.parametrize("command,before", [("eval", "scoring"), ("train", "training")])
def test_check_images_help_fits_the_command(command, before):
    text = " ".join(run(command, "--help").stdout.split())
    assert re.search(rf"--check-images, --no-check-images open every image header before "
                     rf"{before} ", text), text
