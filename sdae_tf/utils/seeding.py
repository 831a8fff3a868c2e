"""Seeding a run so its numbers depend on its seed alone, whatever else runs in the process.

`keras.utils.set_random_seed` seeds Python's `random`, NumPy and TensorFlow. Keras then draws
the seed of every unseeded initializer and seed generator (every `Dense` kernel built without
a `seed`) from Python's *global* `random` stream, which any other thread of the process may
draw from too: in a Dask worker its communication threads do, and the same cell trained there
came out with other weights than in a plain process. `run_seeded(seed)` seeds as
`set_random_seed` does and, for the block it guards, gives Keras a private `random.Random(seed)`
for those draws: in a process where nothing else draws, exactly the numbers the global stream
gives (the same sequence from the same seed); anywhere else, the same numbers still.
"""

import contextlib
import random

import keras


@contextlib.contextmanager
def run_seeded(seed):
    """`keras.utils.set_random_seed(seed)`, and Keras' default seeds drawn from a private
    stream seeded alike inside the block.

    Args:
        seed: an int.
    """
    from keras.src.random import seed_generator

    keras.utils.set_random_seed(seed)
    saved = seed_generator.python_random
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = saved
