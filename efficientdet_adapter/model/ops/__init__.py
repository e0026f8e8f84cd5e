"""model.ops: see docs/architecture.md."""
