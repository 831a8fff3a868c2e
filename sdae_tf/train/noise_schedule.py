"""Noise level over the epochs of a pretraining stage (`--noise_schedule`): a Keras callback.

`ramp_up` (a curriculum) grows the level linearly from 0 to twice the configured level and
`ramp_down` does the reverse, each taken at the middle of the epoch, so both average the
configured level over the stage (a fair comparison with a constant level). The callback sets
the level of every fixed-noise layer of the model at the start of each epoch and has Keras
retrace its train function (the level is a Python number inside the traced step; one retrace per
epoch). A resumed run sets the level of its first epoch the same way.
"""

import keras

from sdae_tf.layers.noise import NOISE_TYPES, NoiseLayer
from sdae_tf.train.choices import NOISE_SCHEDULES as SCHEDULES


def level_at(schedule, level, epoch, epochs):
    """The noise level of `epoch` (0-based) of `epochs` under `schedule`.

    Args:
        schedule: "constant", "ramp_up" or "ramp_down" (`SCHEDULES`).
        level: the schedule's mean level.
        epoch: the epoch, 0-based.
        epochs: the stage's epochs.

    Returns:
        The level, a float (a ramp runs from 0 to twice `level`, or back).

    Raises:
        ValueError: an unknown schedule.

    Example:

    ```python
    from sdae_tf.train import noise_schedule
    noise_schedule.level_at("ramp_up", 0.4, epoch=0, epochs=4)  # 0.1
    ```
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"Unknown noise schedule {schedule!r}. Available: "
                         f"{', '.join(SCHEDULES)}")
    if schedule == "constant" or epochs <= 0:
        return level
    position = (epoch + 0.5) / epochs  # the middle of the epoch, in (0, 1)
    if schedule == "ramp_down":
        position = 1.0 - position
    return 2.0 * level * position


def _level_attribute(layer):
    for cls, arg in NOISE_TYPES.values():
        if type(layer) is cls:
            return arg
    return None


class NoiseSchedule(keras.callbacks.Callback):
    """Sets the model's noise levels per epoch following `schedule` over `epochs`.

    Args:
        schedule: a schedule of `SCHEDULES`.
        epochs: the stage's epochs.
    """

    def __init__(self, schedule, epochs):
        super().__init__()
        self.schedule, self.epochs = schedule, epochs
        self.base = None
        self.levels = []  # (epoch, {layer name: level}) as applied

    def _noise_layers(self):
        return [ly for ly in self.model._flatten_layers(include_self=False)
                if isinstance(ly, NoiseLayer) and _level_attribute(ly)]

    def on_train_begin(self, logs=None):
        if self.base is None:
            self.base = {ly.name: getattr(ly, _level_attribute(ly)) for ly in self._noise_layers()}

    def on_epoch_begin(self, epoch, logs=None):
        applied = {}
        for layer in self._noise_layers():
            attr = _level_attribute(layer)
            value = level_at(self.schedule, self.base[layer.name], epoch, self.epochs)
            if attr == "rate":
                value = min(value, 0.99)
            setattr(layer, attr, float(value))
            applied[layer.name] = float(value)
        self.levels.append((epoch, applied))
        self.model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        for layer in self._noise_layers():  # the model keeps its configured level
            setattr(layer, _level_attribute(layer), self.base[layer.name])
