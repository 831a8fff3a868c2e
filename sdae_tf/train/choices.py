"""The names the training stages take for their optimizer and schedules, in a module without
Keras: the run configuration (`sdae_tf.runner.config`, which must not load Keras before
`--backend` is set) offers the same names as its flags' choices that the stages check."""

# Pretraining's optimizer: Adam, or SGD with momentum 0.9 (DEC-keras's).
OPTIMIZERS = ("adam", "sgd")
# A stage's learning rate: constant, or a cosine decay to zero over the stage.
LR_SCHEDULES = ("constant", "cosine")
# The noise level over a pretraining stage's epochs (`sdae_tf.train.noise_schedule`).
NOISE_SCHEDULES = ("constant", "ramp_up", "ramp_down")
