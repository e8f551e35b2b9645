#!/bin/sh
# Execute notebooks in place, so their committed outputs are the ones nbval compares against.
set -eu
for notebook in "$@"; do
  echo "executing $notebook"
  .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 "$notebook"
done
