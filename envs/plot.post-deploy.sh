#!/usr/bin/env bash
# Snakemake runs this once, inside the freshly created conda env, from the working
# directory of the run (the repository checkout): install the blurscope library
# editable, as the venv route (make venv) does. Rule scripts would find it without
# this too (Snakemake puts workflow_scripts/ on sys.path); the Snakefile's parse-time
# checks and interactive use need the installed package.
set -euo pipefail
root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
python -m pip install --no-deps --no-build-isolation -e "$root"
