"""Does PyTorch's default initialisation explain why the report's recipe leaves the
no-pretraining network at chance on bg-rand-rot here? The 784-1000-1000 sigmoid network with
the 1000-ReLU head, trained from random initialisation under the report's fine-tuning recipe
(Adam 5e-3 constant, batch 128, all 60k images, test set logged per epoch), with Keras' Glorot
initialisation and with PyTorch's default (weights and biases uniform within 1/sqrt(fan_in)).
Writes benchmarks/results/report_init_check.json.

    python benchmarks/report_init_check.py [--epochs 3] [--seeds 0,1]
"""

import argparse
import math

from common import write_results


def torch_dense(keras, units, fan_in, activation):
    bound = 1 / math.sqrt(fan_in)
    return keras.layers.Dense(
        units, activation=activation,
        kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
        bias_initializer=keras.initializers.RandomUniform(-bound, bound))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--inits", default="keras,torch")
    args = parser.parse_args()
    import keras

    from sdae_tf.data import load_dataset

    data = load_dataset("mnist_bg_rand_rot", seed=0, construction="report").without_validation()
    results, lines = {}, ["init | seed | test accuracy per epoch", "---|---|---"]
    for init in args.inits.split(","):
        for seed in map(int, args.seeds.split(",")):
            keras.utils.set_random_seed(seed)
            inputs = keras.Input((28, 28, 1))
            h = keras.layers.Flatten()(inputs)
            dims, acts = [784, 1000, 1000, 1000], ["sigmoid", "sigmoid", "relu"]
            for i, act in enumerate(acts):
                h = (torch_dense(keras, dims[i + 1], dims[i], act) if init == "torch"
                     else keras.layers.Dense(dims[i + 1], activation=act))(h)
            out = (torch_dense(keras, 10, 1000, None) if init == "torch"
                   else keras.layers.Dense(10))(h)
            model = keras.Model(inputs, out)
            model.compile(keras.optimizers.Adam(5e-3),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
            history = model.fit(data.x_train, data.y_train, batch_size=128, epochs=args.epochs,
                                validation_data=(data.x_val, data.y_val), verbose=2)
            accuracy = [float(a) for a in history.history["val_accuracy"]]
            results[f"{init}/seed{seed}"] = accuracy
            lines.append(f"{init} | {seed} | {', '.join(f'{a:.4f}' for a in accuracy)}")
    write_results("benchmarks/results/report_init_check.json",
                  {"epochs": args.epochs, "test_accuracy": results}, lines)


if __name__ == "__main__":
    main()
