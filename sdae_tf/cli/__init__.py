"""Command-line entry points (absl): flag definitions and thin `main`s, no logic of their own.

The process settings the tools choose are made here, when a tool is imported and before
TensorFlow starts; importing `sdae_tf` as a library makes none of them:
- TensorFlow's oneDNN CPU kernels (matmul, fused matmul + bias + activation). TensorFlow turns
  them on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on the AVX2 machines here they
  trained the SDAE block 1.02-1.11x and fine-tuning 1.06-1.16x faster (`perf.py threads`). Set
  TF_ENABLE_ONEDNN_OPTS=0 to keep TensorFlow's own choice.
- TensorFlow's C++ start-up logs (TF_CPP_MIN_LOG_LEVEL=2 unless set).
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
