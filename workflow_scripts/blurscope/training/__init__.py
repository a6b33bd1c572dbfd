"""Training stage: train on blurred images, evaluate at every test blur.

Modules: ``train`` (training and evaluation loops), ``config`` (the config keys of a training job,
torch-free), ``ddp`` (DistributedDataParallel inside one job), ``resume`` (exact resume, stop
signals), ``evaluation`` (accuracy at every test σ), ``plot`` (train σ × test σ heatmap).
Doc: docs/training.md.
"""
