"""Training: the loop's stages (`sdae_tf.train.stages`), shared by the Python API
(`sdae_tf.models`) and the command line's run orchestration (`sdae_tf.runner.training`)."""
