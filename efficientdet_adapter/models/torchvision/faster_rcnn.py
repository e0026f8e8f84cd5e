"""Not offered: see the package."""

from efficientdet_adapter.models.torchvision import MESSAGE

raise ImportError(MESSAGE)
