"""The zoo as Keras models: `get(name)` builds one, `from_preset(name)` loads a shipped one.

Every model is an instance of its family's class (a `sdae_tf.zoo.Family` subclass, e.g.
`DenseStack` for "sdae_mnist"), a `keras.Model` (images -> code -> images) with `encoder` and
`decoder` attributes, `pretrain` (greedy layer-wise), `fit` (end to end), `classifier`
(fine-tuning), `export`, and `.keras` save / load in safe mode.

Example:

```python
import sdae_tf.models

model = sdae_tf.models.get("sdae_mnist")
model.pretrain(x_train, epochs=10)
classifier = model.classifier(num_classes=10)
classifier.fit(x_train, y_train, epochs=5)
model.save("sdae.keras")
```
"""

from sdae_tf.models.zoo_model import DATASET_SHAPES, ZooModel, get
from sdae_tf.zoo.exporting import export_model
from sdae_tf.zoo.presets import WEIGHTS, from_preset
from sdae_tf.zoo.records import model_from_record, model_record


def names():
    """The zoo's model names.

    Example:

    ```python
    print(len(sdae_tf.models.names()), sdae_tf.models.names()[:3])
    ```
    """
    from sdae_tf import zoo

    return zoo.REGISTRY.names()


__all__ = ["DATASET_SHAPES", "WEIGHTS", "ZooModel", "export_model", "from_preset", "get",
           "model_from_record", "model_record", "names"]
