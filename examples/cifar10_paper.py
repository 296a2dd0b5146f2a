"""The paper preset (Xiao et al. 2020) on CIFAR-10 from tensorflow-datasets.

Prepare CIFAR-10 once, on a machine with internet (preparing needs TensorFlow there;
reading here does not):

    pip install tensorflow tensorflow-datasets
    tfds build cifar10 --file_format=array_record --data_dir=/data/tfds

then

    python examples/cifar10_paper.py --data-dir /data/tfds            # the full search
    python examples/cifar10_paper.py --quick                          # tiny, on digits
    python examples/cifar10_paper.py --quick --data-dir D --dataset N # tiny, on tfds N

The full search trains hundreds of candidates for 5 epochs each: run it on an
accelerator (see benchmarks/paper_scale.py for projected hours).
"""

import argparse

import jax

import vlga_jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="tensorflow-datasets data_dir holding the dataset")
    parser.add_argument("--dataset", default="cifar10", help="a prepared tfds dataset")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny search (on digits unless --data-dir is given)")
    parser.add_argument("--out", help="a run directory (checkpoints; resumable)")
    args = parser.parse_args()
    if args.quick:
        print("--quick: tiny settings that only check the code runs; the accuracies it "
              "prints are not meaningful (run without --quick for a real result)")

    config = vlga_jax.Config.preset("paper")
    if args.data_dir or not args.quick:
        config = config.override(**{"data.name": args.dataset, "data.data_dir": args.data_dir})
    if args.quick:  # the paper's search shape, shrunk: 1 phase of 1 generation of 2
        config = config.override(**{
            "ga.population": 2, "ga.generations": 1, "ga.max_phases": 1,
            "space.channels": "8,16", "space.kernels": "1,3", "train.epochs": 1,
            "train.final_epochs": 1, "train.batch_size": 32, "data.subset": 200})
    print(f"dataset {config.data.name}; population {config.ga.population}, generations "
          f"{config.ga.generations}, phases <= {config.ga.max_phases}")
    result = vlga_jax.evolve(jax.random.key(0), config, checkpoint_dir=args.out)
    print(result.summary())


if __name__ == "__main__":
    main()
