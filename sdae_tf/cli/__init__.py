"""Command-line entry points (absl): flag definitions and thin `main`s, no logic of their own.

Importing this package changes nothing in the process. Each tool's module calls
`sdae_tf.utils.process.setup()` first (TensorFlow's oneDNN kernels on, quiet start-up), before
anything imports TensorFlow, so the settings apply to `sdae-train` and `python -m
sdae_tf.cli.train` alike.
"""
