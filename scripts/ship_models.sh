#!/usr/bin/env bash
# Retrains the encoders shipped in exported_models/ with their own flagfiles (CPU: about
# 20 minutes in all here), replacing the shipped folders. Run from the repository root. (The
# flagfiles themselves export to runs/exported/, so running one never touches the shipped copy.)
#   bash scripts/ship_models.sh [model ...]
set -euo pipefail
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  models=(sdae_mnist sae_mnist dvae_mnist sdae_learned_sigma_mnist cdae_mnist mae_mnist)
fi
for m in "${models[@]}"; do
  echo "== $m"
  sdae-train --flagfile="flags/models/$m.flags" --export_dir="exported_models/$m" --overwrite_export \
    --verbose=2 --run_dir="runs/ship-$m-$(date +%Y%m%d-%H%M%S)"
done
python scripts/pack_presets.py "${models[@]}"  # the packs the wheel ships
