"""`sdae-tune`: a keras-tuner search over a zoo model's noise level / type, embedding size or
learned-sigma lambda / floor, from flags or a flagfile.

    sdae-tune --flagfile=flags/tuning/tune_sigma_mnist.flags

The training flags of `sdae-train` describe the base run (model, data, epochs per block, ...);
the --tune_* flags the search space. Run again with the same flags and --tune_dir, a stopped
search resumes; a finished one prints its results. Distributed: the same command in every
process, with KERASTUNER_TUNER_ID (chief / tuner0 / tuner1 ...), KERASTUNER_ORACLE_IP and
KERASTUNER_ORACLE_PORT set (keras-tuner's own chief-oracle protocol).
"""

from sdae_tf.utils import process

process.setup()  # the tools' TensorFlow settings, before TensorFlow is imported

from absl import flags  # noqa: E402

from sdae_tf.cli import flags as train_flags  # noqa: E402
from sdae_tf.cli.errors import run_tool, start, user_errors  # noqa: E402
from sdae_tf.integrations import tuning  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_enum("tuner", "random", list(tuning.TUNERS), "keras-tuner algorithm.")
flags.DEFINE_enum("objective", "probe", list(tuning.OBJECTIVES),
                  "probe: validation accuracy of a ridge linear probe on the encoder (max); "
                  "reconstruction: validation reconstruction loss of the stack (min).")
flags.DEFINE_integer("max_trials", 10, "Trials of a random or Bayesian search.", lower_bound=1)
flags.DEFINE_integer("probe_examples", 5000, "Training examples the probe is fitted on.",
                     lower_bound=10)
flags.DEFINE_integer("tuner_seed", 0, "Seed of the search algorithm.")
flags.DEFINE_string("tune_dir", None, "Search directory (default: runs/tune/<model>).")
flags.DEFINE_bool("overwrite_search", False, "Delete an existing search in --tune_dir first.")
flags.DEFINE_integer("top", 5, "Best trials to print and write.", lower_bound=1)
flags.DEFINE_string("tune_noise_level", None,
                    "Noise level (Gaussian sigma / corrupted fraction): lo:hi, lo:hi:log or "
                    "a,b,c.")
flags.DEFINE_list("tune_noise_type", None, "Noise types to choose from, e.g. gaussian,masking.")
flags.DEFINE_list("tune_embedding_size", None, "Widths of the last encoder layer, e.g. 250,1000.")
flags.DEFINE_string("tune_lambda", None,
                    "Learned-sigma lambda of every block: lo:hi, lo:hi:log or a,b,c.")
flags.DEFINE_string("tune_floor", None, "Learned-sigma floor: lo:hi or a,b,c.")


def space_from_flags(values=FLAGS):
    def spec(text, kind=float):
        return None if text is None else tuning.parse_spec(text, kind)

    def choice(items, kind):
        return None if not items else tuning.parse_spec(",".join(items), kind)

    return tuning.SearchSpace(
        noise_level=spec(values.tune_noise_level),
        noise_type=choice(values.tune_noise_type, str),
        embedding_size=choice(values.tune_embedding_size, int),
        lambdas=spec(values.tune_lambda),
        floor=spec(values.tune_floor),
    )


def main(argv):
    start(argv)
    with user_errors("sdae-tune"):
        base = train_flags.config_from_flags(FLAGS)
        results = tuning.run_search(
            base, space_from_flags(FLAGS), tuner_kind=FLAGS.tuner, objective=FLAGS.objective,
            tune_dir=FLAGS.tune_dir or f"runs/tune/{base.model}", max_trials=FLAGS.max_trials,
            probe_examples=FLAGS.probe_examples, seed=FLAGS.tuner_seed,
            overwrite=FLAGS.overwrite_search, top=FLAGS.top)
    if results is None:
        print("Worker done.", flush=True)
        return
    print(tuning.results_markdown(results), flush=True)
    print(f"results: {results['tune_dir']}/{tuning.RESULTS_JSON}, {tuning.RESULTS_MD}")
    if "export" in results:
        print(f"best encoder exported to {results['export']['path']}")


def run_main():
    run_tool(main, "sdae-tune")


if __name__ == "__main__":
    run_main()
