"""Saliency stage: SmoothGrad focus of a naive (σ = 0) and an expert (blur-fine-tuned) model.

Modules: ``smoothgrad`` (the saliency maps and their focus), ``plot`` (figures). Doc: docs/saliency.md.
"""
