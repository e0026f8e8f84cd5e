"""The model: effdet's EfficientDet built, configured and run (config, backbones, wrappers,
sizes, anchors, the runtime, an ONNX export run by ONNX Runtime, class-aware head transfer);
``model/ops/``: the effdet-equal ops. See docs/architecture.md."""

from efficientdet_adapter.base.version_compat import import_effdet_quietly

import_effdet_quietly()  # effdet imports torch.jit.script, deprecated: silence it before any module here imports effdet
