"""pictures: see docs/architecture.md."""
