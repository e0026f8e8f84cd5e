"""IceVision's ``engines`` package: ``engines.fastai`` converts loaders for fastai."""
