"""version_compat: the Lightning package rule (both packages' Trainers take the adapter, whichever
the user imports), and torch's state-dict hook on torch before and after 2.5."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from efficientdet_adapter.base.errors import UsageError
from efficientdet_adapter.base.version_compat import (
    LIGHTNING_ENV,
    lightning_package,
    lightning_package_name,
    register_load_state_dict_pre_hook,
)

REPO = Path(__file__).resolve().parents[1]
BOTH = {"lightning", "pytorch_lightning"}


@pytest.mark.parametrize("installed, imported, env, expected", [
    (set(), set(), None, None),
    ({"pytorch_lightning"}, set(), None, "pytorch_lightning"),
    ({"lightning"}, set(), None, "lightning"),
    ({"lightning"}, {"pytorch_lightning"}, None, "lightning"),
    (BOTH, set(), None, "pytorch_lightning"),
    (BOTH, {"pytorch_lightning"}, None, "pytorch_lightning"),
    (BOTH, {"lightning"}, None, "lightning"),
    (BOTH, {"lightning", "pytorch_lightning"}, None, "lightning"),
    (BOTH, {"lightning"}, "pytorch_lightning", "pytorch_lightning"),
    (BOTH, set(), "lightning", "lightning"),
])
def test_lightning_package_rule(installed, imported, env, expected):
    assert lightning_package_name(installed, imported, env) == expected


@pytest.mark.parametrize("env, message", [
    ("lightning_fabric", "use one of pytorch_lightning, lightning"),
    ("lightning", "not installed \\(pip install lightning\\)"),
])
def test_lightning_env_errors(env, message):
    with pytest.raises(ValueError, match=message):
        lightning_package_name({"pytorch_lightning"}, set(), env)


def test_bad_env_value_is_a_usage_error(monkeypatch):
    monkeypatch.setenv(LIGHTNING_ENV, "tensorflow")
    with pytest.raises(UsageError, match=f"{LIGHTNING_ENV}='tensorflow'"):
        lightning_package()


def test_neither_package_says_which_extra(monkeypatch):
    monkeypatch.delenv(LIGHTNING_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.setitem(sys.modules, "pytorch_lightning", None)
    with pytest.raises(ImportError, match=r"train --engine lightning needs Lightning: pip install "
                                          r"'efficientdet_adapter\[lightning\]'"):
        lightning_package("train --engine lightning")


class _Doubler(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2))


class _Torch24Module(_Doubler):
    """A module as torch 2.4 has it: no public register_load_state_dict_pre_hook."""

    register_load_state_dict_pre_hook = None


@pytest.mark.parametrize("cls", [_Doubler, _Torch24Module])
def test_load_state_dict_pre_hook_runs_on_both_apis(cls):
    seen = []

    def hook(module, state_dict, prefix, *args):
        seen.append(module)
        state_dict.pop(f"{prefix}stale", None)

    module = cls()
    register_load_state_dict_pre_hook(module, hook)
    module.load_state_dict({"w": torch.tensor([1.0, 2.0]), "stale": torch.zeros(1)})
    assert seen == [module]
    assert module.w.tolist() == [1.0, 2.0]


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


FIT = textwrap.dedent("""
    import sys
    {imports}
    import torch
    from efficientdet_adapter import Dataset, tfms
    from efficientdet_adapter import efficientdet
    from efficientdet_adapter.app.demo import demo_class_map, demo_records
    from efficientdet_adapter.metrics import COCOMetric

    splits = demo_records({demo!r}, num_images=6, splits=(0.5, 0.5, 0))
    model = efficientdet.model(model_name="tf_efficientdet_lite0",
                               num_classes=len(demo_class_map()), img_size=128)
    tfm = tfms.A.Adapter([*tfms.A.resize_and_pad(128), efficientdet.normalize_tfm(model)])
    train_dl = efficientdet.train_dl(Dataset(splits["train"], tfm), batch_size=3)
    valid_dl = efficientdet.valid_dl(Dataset(splits["valid"], tfm), batch_size=3)

    class LightModel(efficientdet.lightning.ModelAdapter):
        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=1e-3)

    trainer = {trainer}(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LightModel(model, metrics=[COCOMetric()]), train_dl, valid_dl)
    [base] = [c for c in type(trainer.lightning_module).__mro__ if c.__name__ == "LightningModule"]
    print("FIT", base.__module__, float(trainer.callback_metrics["val_loss"]))
""")


def _fit(tmp_path, imports: str, trainer: str, env: dict | None = None) -> str:
    script = tmp_path / "fit.py"
    script.write_text(FIT.format(imports=imports, trainer=trainer, demo=str(tmp_path / "demo")))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(env or {})}
    env.pop(LIGHTNING_ENV, None)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("FIT ")]
    return line


@pytest.mark.slow
@pytest.mark.skipif(not _installed("lightning"), reason="needs the `lightning` package")
def test_import_lightning_as_L_trains_the_adapter(tmp_path):
    """Lightning's documented style: `import lightning as L` then `L.Trainer(...).fit(...)`; with
    `pytorch_lightning` blocked, as in an environment that has only `lightning`."""
    line = _fit(tmp_path, "sys.modules['pytorch_lightning'] = None\nimport lightning as L",
                "L.Trainer")
    assert line.startswith("FIT lightning.pytorch.core.module ")
    assert float(line.split()[-1]) > 0


@pytest.mark.slow
@pytest.mark.skipif(not (_installed("lightning") and _installed("pytorch_lightning")),
                    reason="needs both Lightning packages")
@pytest.mark.parametrize("imports, trainer, base", [
    ("import lightning as L", "L.Trainer", "lightning.pytorch"),
    ("import lightning.pytorch as lp", "lp.Trainer", "lightning.pytorch"),
    ("from efficientdet_adapter.all import *", "pl.Trainer", "pytorch_lightning"),
])
def test_both_packages_installed_each_trainer_takes_the_adapter(tmp_path, imports, trainer, base):
    line = _fit(tmp_path, imports, trainer)
    assert line.split()[1] == f"{base}.core.module"
