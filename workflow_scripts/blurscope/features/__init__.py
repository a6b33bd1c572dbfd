"""Feature stage: each neuron's top-activating images and patches (VITAL feature analysis).

Modules: ``topk`` (top-k images per neuron, one streaming pass), ``patches`` (top patches),
``receptive_field`` (exact receptive fields), ``plot`` (feature grids). Doc: docs/features.md.
"""
