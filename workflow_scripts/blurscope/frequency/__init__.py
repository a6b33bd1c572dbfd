"""Frequency stage: a classifier's frequency preference (hybrid images, f_rev, shape bias) and
ImageNet-C corruption errors.

Modules: ``preference`` (hybrid images, f_rev, f_0.5, shape bias), ``corruptions`` (ImageNet-C
corruptions and errors), ``corruption_ops`` (the image operations they are built from),
``corruption_config`` (corruption names and config checks, torch-free), ``plot`` (figures);
``frost/`` holds ImageNet-C's frost textures (package data). Doc: docs/frequency.md.
"""
