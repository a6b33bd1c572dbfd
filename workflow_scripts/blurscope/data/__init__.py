"""Images in: the embedded default dataset, ImageFolder data and 16-class ImageNet.

Modules: ``files`` (manifests, decoding, resizing, analysis subsets), ``embedded`` (the
procedurally generated default dataset), ``imagenet16`` (Geirhos et al.'s cue-conflict stimuli
and the 1000 → 16 class aggregation). Doc: README.md (data) and docs/training.md.
"""
