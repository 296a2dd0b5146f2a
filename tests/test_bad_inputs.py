"""Bad inputs, table-driven: each ends in one clear error, never a traceback or a wrong run.

Through the command line (in-process `vlga_jax.cli.main`: exit status 2 and one
``vlga: error: ...`` line holding a fragment of the expected message), through the
command line's parsing of ``--set`` (the value the config gets), and through the Python
API (`Config`, `Dataset.from_arrays`, `load_model`, run directories: the exception class
and a fragment of its message). Everything is refused before training except the one
search whose every candidate fails (its losses marked as diverged), which trains
test_resume's tiny config for one generation and shares its compiled programs, and the
user objectives that return bad values, which train one generation each.
"""

import dataclasses
import json
import shutil
import types
import warnings

import jax
import numpy as np
import pytest
from support import CACHE_OPTIONS, KEY, hold_lock, shared_cache_dir, tiny_config

from vlga_jax import (
    Config,
    DataConfig,
    Dataset,
    GAConfig,
    RunConfig,
    SpaceConfig,
    TrainConfig,
    cli,
    evolve,
    load_dataset,
    load_model,
    save_model,
)
from vlga_jax.cli import main
from vlga_jax.core import checkpoint as ckpt
from vlga_jax.core import distributed
from vlga_jax.data.datasets import find_prepared
from vlga_jax.genetics import genome as G
from vlga_jax.networks import params as P
from vlga_jax.networks.architecture import from_description
from vlga_jax.runs import lock as run_lock
from vlga_jax.runs import rundir
from vlga_jax.runs.records import CandidateRecord, GenerationRecord
from vlga_jax.search.evolve import SearchFailed, check_crop_padding
from vlga_jax.training.objectives import Objective, ObjectiveError


@pytest.fixture(scope="module", autouse=True)
def keep_jax_cache_options():
    saved = {name: getattr(jax.config, name) for name in CACHE_OPTIONS}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def digits_model(config: Config, dataset: Dataset):
    """A Result-like object with an initialised (untrained) network: a model file to
    damage, without training one."""
    space = config.space.build()
    pop = G.random_population(jax.random.key(0), space, 1, space.max_blocks)
    genome = G.unstack(G.sync_depth(pop, space))[0]
    desc = G.decode(genome, space)
    arch = from_description(desc, input_shape=dataset.image_shape,
                            num_classes=dataset.num_classes, defaults=config.train.defaults())
    params, stats = P.init_params(jax.random.key(1), arch.shape_key())
    return types.SimpleNamespace(architecture=arch, description=desc, params=params,
                                 batch_stats=stats, config=config, search_fitness=0.5,
                                 val_accuracy=0.5, test_accuracy=0.5)


def run_dir(path, config, dataset, key=KEY):
    """A run directory as `vlga run` leaves it before its first generation (unlocked)."""
    rundir.RunDir(path, config, jax.random.key(key), dataset)
    run_lock.unlock(path)
    return path


@pytest.fixture(scope="module")
def paths(tmp_path_factory, digits_dataset):
    """Files and run directories the table's arguments name, as {name} placeholders."""
    tmp = tmp_path_factory.mktemp("bad")
    cache = shared_cache_dir(tmp_path_factory)
    config = tiny_config(cache)
    p = {"tmp": tmp, "cache": cache}

    p["file"] = tmp / "file.txt"
    p["file"].write_text("not a directory\n")
    p["empty"] = tmp / "empty"
    p["empty"].mkdir()
    p["tiny"] = tmp / "tiny.json"
    p["tiny"].write_text(config.to_json())
    for name, text in (("list", "[1, 2]"), ("null", "null"), ("section", '{"ga": 5}'),
                       ("field", '{"ga": {"pop": 4}}'), ("broken", '{"ga": '),
                       ("value", '{"ga": {"population": "many"}}')):
        p[f"cfg_{name}"] = tmp / f"{name}.json"
        p[f"cfg_{name}"].write_text(text)
    p["cfg_binary"] = tmp / "binary.json"
    p["cfg_binary"].write_bytes(b"\xff\xfe\x00\x81garbage")

    # Model files: a good one, then damaged copies.
    model = tmp / "model.npz"
    save_model(model, digits_model(config, digits_dataset), dataset=digits_dataset)
    data = model.read_bytes()
    p["model"] = model
    p["truncated"] = tmp / "truncated.npz"
    p["truncated"].write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    p["flipped"] = tmp / "flipped.npz"
    p["flipped"].write_bytes(bytes(flipped))
    p["npy_model"] = tmp / "array.npy"
    np.save(p["npy_model"], np.zeros(3))

    # Images (raw digits units, 0..16).
    from sklearn.datasets import load_digits

    raw = load_digits().images[:6]
    for name, images in (("images", raw), ("nan", np.where(np.eye(8) > 0, np.nan, raw)),
                         ("inf", np.where(np.eye(8) > 0, np.inf, raw)),
                         ("small", raw[:, :4, :4]), ("rgb", np.repeat(raw[..., None], 3, -1)),
                         ("flat", raw.reshape(6, -1)), ("strings", np.full((2, 8, 8), "a"))):
        p[name] = tmp / f"{name}.npy"
        np.save(p[name], images)

    # Run directories (the tiny config's data and key, nothing trained).
    dataset = load_dataset("digits", subset=config.data.subset)
    p["unfinished"] = run_dir(tmp / "unfinished", config, dataset)
    p["no_model"] = run_dir(tmp / "no_model", config, dataset)
    (p["no_model"] / "result.json").write_text("{}")
    p["edited"] = run_dir(tmp / "edited", config, dataset)
    ckpt.save(p["edited"] / "checkpoints", 1,
              {"config": config.to_dict(), "key": rundir._key_json(jax.random.key(KEY))}, {})
    info = json.loads((p["edited"] / "run.json").read_text())
    info["config"]["ga"]["population"] = 6
    (p["edited"] / "run.json").write_text(json.dumps(info))
    p["locked"] = run_dir(tmp / "locked", config, dataset)
    for name, text in (("bad_json", "{"), ("json_list", "[]"),
                       ("no_key", json.dumps({"config": {}}))):
        p[name] = tmp / name
        p[name].mkdir()
        (p[name] / "run.json").write_text(text)
    p["bad_config"] = tmp / "bad_config"
    shutil.copytree(p["unfinished"], p["bad_config"])
    info = json.loads((p["bad_config"] / "run.json").read_text())
    info["config"]["ga"]["population"] = 0
    (p["bad_config"] / "run.json").write_text(json.dumps(info))
    p["bad_log"] = tmp / "bad_log"
    (p["bad_log"] / "logs").mkdir(parents=True)
    (p["bad_log"] / "logs" / "generations.jsonl").write_text('{"phase": 0\n{}\n')
    p["bad_result"] = tmp / "bad_result"
    shutil.copytree(p["bad_log"], p["bad_result"])
    (p["bad_result"] / "logs" / "generations.jsonl").write_text("")
    (p["bad_result"] / "result.json").write_text("{ truncated")
    p["existing"] = tmp / "existing.npy"
    np.save(p["existing"], np.zeros(2))

    # Run directories whose folders are files, and run.json of other JSON kinds.
    for name in ("checkpoints", "final", "logs"):
        p[f"{name}_file"] = tmp / f"{name}_file"
        shutil.copytree(p["unfinished"], p[f"{name}_file"])
        shutil.rmtree(p[f"{name}_file"] / name, ignore_errors=True)
        (p[f"{name}_file"] / name).write_text("not a directory\n")
    for name, text in (("json_string", '"a run"'), ("json_number", "3"),
                       ("no_dataset", json.dumps({"config": {}, "key": {}}))):
        p[name] = tmp / name
        p[name].mkdir()
        (p[name] / "run.json").write_text(text)
    # A run directory with one generation logged (what vlga report plots).
    p["logged"] = tmp / "logged"
    shutil.copytree(p["unfinished"], p["logged"])
    genome = {"blocks": [{"channels_a": 8, "kernel_a": 3}], "globals": {}}
    candidates = [CandidateRecord(0, 0, f"h{i}", genome, 0.1 * i, 1, 0.1, False, "", False,
                                  100 + i, 1000) for i in range(2)]
    (p["logged"] / "logs").mkdir(exist_ok=True)
    (p["logged"] / "logs" / "candidates.jsonl").write_text(
        "".join(json.dumps(dataclasses.asdict(c)) + "\n" for c in candidates))
    record = GenerationRecord(0, 0, 0.1, 0.05, 0.05, 2, 0, 1.0, [0.0, 0.1])
    (p["logged"] / "logs" / "generations.jsonl").write_text(
        json.dumps(dataclasses.asdict(record)) + "\n")
    # A folder of the user's own plots (vlga report --out must not replace them).
    p["user_plots"] = tmp / "user_plots"
    p["user_plots"].mkdir()
    (p["user_plots"] / "fitness.png").write_bytes(b"the user's own plot")
    return p


def run_cli(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def expand(argv, paths) -> list[str]:
    return [str(a).format(**paths) for a in argv]


TINY = ["run", "--config", "{tiny}", "--seed", KEY]
NO_CACHE = ["--set", "run.compile_cache_dir=none"]


# -- the command line: exit status 2 and one line --------------------------------------------

CLI = [
    # argument syntax
    ("seed-not-int", ["run", "--seed", "x"], "invalid int value: 'x'"),
    ("seed-too-large", ["run", "--seed", 2**32], "must be in [0, 2**32)"),
    ("preset-unknown", ["run", "--preset", "nope"], "invalid choice"),
    ("set-without-equals", ["run", "--set", "ga.population"], "--set expects key=value"),
    ("set-unknown-field", ["run", "--set", "ga.nope=3"], "unknown config field 'ga.nope'"),
    ("set-unknown-section", ["run", "--set", "gaa.population=3"],
     "unknown config field 'gaa.population'; sections"),
    ("set-section-only", ["run", "--set", "ga=3"], "unknown config field 'ga'"),
    # --set values: type and range, named with what is accepted
    ("population-zero", ["run", "--set", "ga.population=0"],
     "ga.population must be an integer >= 2"),
    ("cost-cap-zero", ["run", "--set", "train.max_candidate_gflop=0"],
     "train.max_candidate_gflop must be None (no cap) or > 0 (GFLOP per training example)"),
    ("population-word", ["run", "--set", "ga.population=many"],
     "ga.population must be an integer, got 'many'"),
    ("population-fraction", ["run", "--set", "ga.population=2.5"],
     "ga.population must be an integer"),
    ("population-bool", ["run", "--set", "ga.population=true"], "ga.population must be an integer"),
    ("bool-word", ["run", "--set", "space.training_genes=maybe"],
     "space.training_genes must be a boolean (true/false, yes/no, 1/0), got 'maybe'"),
    ("bool-two", ["run", "--set", "train.pad_shapes=2"], "train.pad_shapes must be a boolean"),
    ("channels-not-in-table", ["run", "--set", "space.channels=7"],
     "space.channels must be values from"),
    ("channels-empty", ["run", "--set", "space.channels="], "space.channels must be non-empty"),
    ("channels-repeated", ["run", "--set", "space.channels=8,8"], "without repeats"),
    ("kernel-even", ["run", "--set", "space.kernels=2"], "space.kernels must be values from"),
    ("activation-unknown", ["run", "--set", "space.activations=swish"],
     "space.activations must be values from"),
    ("resize-zero", ["run", "--set", "data.resize=0"],
     "data.resize must be None or (height, width)"),
    ("resize-three", ["run", "--set", "data.resize=1,2,3"], "data.resize must be None, one size"),
    ("lr-nan", ["run", "--set", "train.learning_rate=nan"],
     "train.learning_rate must be None or a finite number, got 'nan'"),
    ("lr-negative", ["run", "--set", "train.learning_rate=-1"],
     "train.learning_rate must be None (each optimizer's default) or > 0"),
    ("dropout-one", ["run", "--set", "train.dropout=1"], "train.dropout must be in [0, 1)"),
    ("mutation-rate", ["run", "--set", "ga.mutation_rate=1.5"],
     "ga.mutation_rate must be in [0, 1]"),
    ("strategy-unknown", ["run", "--set", "ga.strategy=nope"], "ga.strategy must be one of"),
    ("augment-unknown", ["run", "--set", "train.augment=rotate"],
     "train.augment must be names from"),
    ("augment-repeated", ["run", "--set", "train.augment=crop,crop"], "without repeats"),
    ("val-fraction-one", ["run", "--set", "data.val_fraction=1"],
     "data.val_fraction must be in (0, 1)"),
    ("data-seed-negative", ["run", "--set", "data.seed=-1"], "data.seed must be an integer >= 0"),
    ("subset-zero", ["run", "--set", "data.subset=0"], "data.subset must be an integer >= 1"),
    ("cache-dir-under-file", ["run", "--out", "{tmp}/o1", "--set",
                              "run.compile_cache_dir={file}/cache"],
     "run.compile_cache_dir {file}/cache: {file} is not a directory"),
    ("cache-dir-unwritable", ["run", "--out", "{tmp}/o2", "--set",
                              "run.compile_cache_dir=/proc/vlga-cache"], "/proc is not writable"),
    # combinations, refused before anything is loaded or trained
    ("bitflip-with-vlga", ["run", "--set", "ga.mutation_mode=bitflip"],
     "'bitflip' mutates the chromosome of ga.strategy='ga' only"),
    ("bitflip-with-tournament", ["run", "--preset", "tournament", "--set",
                                 "ga.mutation_mode=bitflip"], "with ga.strategy='tournament'"),
    ("grid-without-budget", ["run", "--set", "ga.strategy=grid"],
     "its grid holds 4,385,160 networks"),
    ("gene-rates-ignored-by-vlga", ["run", "--set", "ga.gene_rates=channels_a:0.5"],
     "they would be ignored"),
    ("gene-rates-ignored-by-one", ["run", "--preset", "mlp-ga", "--set", "ga.gene_rates=units:0.5"],
     "ga.mutation_mode='one' they would be ignored"),
    ("gene-rates-unknown-gene", ["run", "--preset", "tournament", "--set",
                                 "ga.gene_rates=nope:0.5"], "(unknown: ['nope'])"),
    ("gene-rates-bad-rate", ["run", "--preset", "tournament", "--set", "ga.gene_rates=units:2"],
     "ga.gene_rates['units'] must be in [0, 1]"),
    ("budget-below-one-candidate", ["run", "--set", "ga.budget_epochs=1"],
     "ga.budget_epochs must be >= train.epochs (4"),
    ("phases-above-blocks", ["run", "--set", "ga.max_phases=5"],
     "ga.max_phases must be <= space.max_blocks"),
    ("no-survivors", ["run", "--set", "ga.fit_survival_rate=0"], "0 leaves no parents"),
    ("elites-fill-population", ["run", "--preset", "tournament", "--set", "ga.elites=50"],
     "ga.elites must be < ga.population"),
    ("cnn-field-on-mlp", ["run", "--preset", "mlp-ga", "--set", "space.channels=8"],
     "it applies to the kinds ('xiao2020', 'fixed_cnn') only"),
    ("binary-cnn-stages", ["run", "--preset", "binary-cnn", "--set", "space.max_blocks=5"],
     "a power of two"),
    # --config files
    ("config-missing", ["run", "--config", "/nonexistent.json"], "--config /nonexistent.json"),
    ("config-directory", ["run", "--config", "{empty}"], "Is a directory"),
    ("config-list", ["run", "--config", "{cfg_list}"], "a config must be an object of sections"),
    ("config-null", ["run", "--config", "{cfg_null}"], "got NoneType None"),
    ("config-section-int", ["run", "--config", "{cfg_section}"],
     "config section 'ga' must be an object"),
    ("config-unknown-field", ["run", "--config", "{cfg_field}"], "ga: unknown field(s) ['pop']"),
    ("config-broken-json", ["run", "--config", "{cfg_broken}"], "--config"),
    ("config-binary", ["run", "--config", "{cfg_binary}"], "--config"),
    ("config-bad-value", ["run", "--config", "{cfg_value}"], "ga.population must be an integer"),
    # output directories
    ("out-under-file", ["run", "--out", "/dev/null/x"], "/dev/null is not a directory"),
    ("out-is-file", ["run", "--out", "{file}"], "is a file, not a directory"),
    ("out-unwritable", ["run", "--out", "/proc/vlga-run"], "/proc is not writable"),
    # data
    ("dataset-not-prepared", ["run", "--dataset", "cifar10", "--data-dir", "{empty}",
                              "--out", "{tmp}/o3", *NO_CACHE],
     "'cifar10' is not prepared in {empty}"),
    ("dataset-mnist-not-prepared", ["run", "--dataset", "mnist", "--data-dir", "{empty}",
                                    "--out", "{tmp}/o4", *NO_CACHE], "tfds build mnist"),
    ("dataset-bad-name", ["run", "--dataset", "not a name!", "--out", "{tmp}/o5", *NO_CACHE],
     "unknown dataset name"),
    ("dataset-too-small", ["run", "--set", "data.subset=1", "--out", "{tmp}/o6", *NO_CACHE],
     "fewer than 2 examples"),
    ("tensorboard-missing", [*TINY, "--out", "{tmp}/o7", "--set", "run.tensorboard=yes"],
     "needs tensorboardX"),
    # run directories
    ("run-other-run", ["run", "--config", "{tiny}", "--seed", KEY + 1, "--out", "{unfinished}"],
     "holds a different run"),
    ("resume-missing", ["resume", "/nonexistent"], "not a vlga run directory"),
    ("resume-file", ["resume", "{file}"], "not a directory"),
    ("resume-bad-json", ["resume", "{bad_json}"], "run.json: unreadable"),
    ("resume-json-list", ["resume", "{json_list}"], "run.json: damaged (a JSON list, not"),
    ("resume-no-key", ["resume", "{no_key}"], "run.json: damaged"),
    ("resume-invalid-config", ["resume", "{bad_config}"], "ga.population must be an integer >= 2"),
    ("resume-edited-run-json", ["resume", "{edited}"],
     "does not match the run its checkpoints hold"),
    ("report-missing", ["report", "/nonexistent"], "not a vlga run directory"),
    ("report-bad-log", ["report", "{bad_log}"], "line 1 is not valid JSON"),
    ("report-bad-result", ["report", "{bad_result}"], "result.json: unreadable"),
    ("export-unfinished", ["export", "{unfinished}", "--to", "{tmp}/e.npz"],
     "has not finished (no model.npz): vlga resume"),
    ("export-model-missing", ["export", "{no_model}", "--to", "{tmp}/e.npz"],
     "has finished but its model.npz is missing: vlga resume"),
    ("export-not-a-run", ["export", "{empty}", "--to", "{tmp}/e.npz"], "not a vlga run directory"),
    # model files and images
    ("predict-truncated-model", ["predict", "{truncated}", "{images}"], "damaged"),
    ("predict-flipped-model", ["predict", "{flipped}", "{images}"], "damaged"),
    ("predict-npy-model", ["predict", "{npy_model}", "{images}"], "not an .npz archive"),
    ("predict-directory-model", ["predict", "{empty}", "{images}"],
     "a directory, not a model file"),
    ("predict-missing-model", ["predict", "/nonexistent.npz", "{images}"], "no such model file"),
    ("predict-nan-images", ["predict", "{model}", "{nan}"], "NaN or inf pixels (6 of 6 images)"),
    ("predict-inf-images", ["predict", "{model}", "{inf}"], "NaN or inf pixels"),
    ("predict-small-images", ["predict", "{model}", "{small}"], "images must be 8x8"),
    ("predict-rgb-images", ["predict", "{model}", "{rgb}"], "images must be (N, H, W, 1)"),
    ("predict-flat-images", ["predict", "{model}", "{flat}"], "images must be (N, H, W, 1)"),
    ("predict-string-images", ["predict", "{model}", "{strings}"], "integer or float"),
    ("predict-text-images", ["predict", "{model}", "{file}"], "unsupported format '.txt'"),
    ("predict-out-under-file", ["predict", "{model}", "{images}", "--out", "/dev/null/x"],
     "/dev/null is not a directory"),
    ("predict-out-exists-without-suffix", ["predict", "{model}", "{images}", "--out",
                                           "{tmp}/existing"], "--out {tmp}/existing.npy exists"),
    ("presets-unknown", ["presets", "--explain", "nope"], "nope"),
]

# Several processes: refused before anything starts (no worker, no JAX runtime).
TWO = ["--num-processes", "2"]
CLI_NEW = [
    ("coordinator-port-too-large", ["run", "--coordinator", "localhost:99999", *TWO,
                                    "--process-id", "0"],
     "--coordinator must be HOST:PORT (process 0's host and a free port in [1, 65535]), got "
     "'localhost:99999'"),
    ("coordinator-port-zero", ["run", "--coordinator", "localhost:0", *TWO, "--process-id", "0"],
     "a free port in [1, 65535]"),
    ("coordinator-no-port", ["run", "--coordinator", "localhost", *TWO, "--process-id", "0"],
     "--coordinator must be HOST:PORT"),
    ("coordinator-port-word", ["run", "--coordinator", "localhost:http", *TWO,
                               "--process-id", "0"], "got 'localhost:http'"),
    ("coordinator-no-host", ["run", "--coordinator", ":1234", *TWO, "--process-id", "0"],
     "--coordinator must be HOST:PORT"),
    ("coordinator-negative-port", ["run", "--coordinator", "h:-5", *TWO, "--process-id", "0"],
     "--coordinator must be HOST:PORT"),
    ("process-id-without-coordinator", ["run", "--process-id", "1"],
     "--process-id needs --coordinator HOST:PORT"),
    ("num-processes-without-coordinator", ["run", *TWO],
     "--num-processes needs --coordinator HOST:PORT"),
    ("process-id-too-large", ["run", "--coordinator", "h:1234", *TWO, "--process-id", "2"],
     "--process-id must be an integer in [0, --num-processes) (0..1 for --num-processes 2)"),
    ("process-id-negative", ["run", "--coordinator", "h:1234", *TWO, "--process-id", "-1"],
     "--process-id must be an integer in [0, --num-processes)"),
    ("num-processes-zero", ["run", "--coordinator", "h:1234", "--num-processes", "0",
                            "--process-id", "0"], "--num-processes must be an integer >= 1"),
    ("coordinator-without-count", ["run", "--coordinator", "h:1234", "--process-id", "0"],
     "--coordinator h:1234 needs --num-processes too"),
    ("coordinator-without-id", ["run", "--coordinator", "h:1234", *TWO],
     "--coordinator h:1234 needs --process-id too"),
    ("connect-timeout-zero", ["run", "--coordinator", "h:1234", *TWO, "--process-id", "0",
                              "--connect-timeout", "0"],
     "--connect-timeout must be whole seconds in [1, 86400], got 0"),
    ("connect-timeout-word", ["run", "--connect-timeout", "soon"], "invalid int value: 'soon'"),
    ("resume-port-too-large", ["resume", "{unfinished}", "--coordinator", "h:70000", *TWO,
                               "--process-id", "1"], "got 'h:70000'"),
    ("resume-process-id-alone", ["resume", "{unfinished}", "--process-id", "1"],
     "--process-id needs --coordinator"),
    # objectives named in the config: checked before anything trains
    ("objectives-epochs", ["run", "--set", "ga.objectives=epochs"],
     "ga.objectives must be metrics that tell candidates apart"),
    ("objectives-minus-epochs", ["run", "--set", "ga.objectives=val_acc,-epochs"],
     "('epochs' is train.epochs for every fully trained candidate)"),
    ("objectives-params-with-halving", ["run", "--preset", "quick-halving", "--set",
                                        "ga.objectives=-params"],
     "ga.objectives must be () or ('val_acc',) with successive halving"),
    ("objectives-loss-with-halving", ["run", "--set", "train.halving_min_epochs=1", "--set",
                                      "ga.objectives=-val_loss"], "successive halving"),
    ("objectives-two-with-halving", ["run", "--preset", "quick-halving", "--set",
                                     "ga.objectives=val_acc,-params"], "successive halving"),
    ("objectives-unknown", ["run", "--set", "ga.objectives=speed"],
     "ga.objectives must name metrics from"),
    # values far outside what can train
    ("lr-30", ["run", "--set", "train.learning_rate=30"],
     "train.learning_rate must be <= 10 (SGD trains below ~1, Adam below ~0.1"),
    ("lr-1e9", ["run", "--set", "train.learning_rate=1e9"], "train.learning_rate must be <= 10"),
    ("weight-decay-1e9", ["run", "--set", "train.weight_decay=1e9"],
     "train.weight_decay must be in [0, 1]"),
    ("weight-decay-2", ["run", "--set", "train.weight_decay=2"], "got 2"),
    ("tournament-size-above-population", ["run", "--preset", "tournament", "--set",
                                          "ga.tournament_size=1000"],
     "ga.tournament_size must be <= ga.population (50) with ga.parent_selection='tournament'"),
    ("tournament-size-population-2", ["run", "--set", "ga.parent_selection=tournament",
                                      "--set", "ga.population=2"],
     "ga.tournament_size must be <= ga.population (2)"),
    ("elites-with-vlga", ["run", "--set", "ga.elites=100"],
     "ga.elites must be left at 2 with ga.strategy='vlga' (only 'tournament' and "
     "'random_population' keep elites: it would be ignored), got 100"),
    ("elites-with-classical-ga", ["run", "--preset", "classical-ga", "--set", "ga.elites=0"],
     "with ga.strategy='ga'"),
    ("elites-with-grid", ["run", "--preset", "grid", "--set", "ga.elites=5"],
     "with ga.strategy='grid'"),
    ("crop-padding-above-image", [*TINY, "--out", "{tmp}/c1", "--set", "train.augment=crop",
                                  "--set", "train.crop_padding=100"],
     "train.crop_padding must be < the images' size (8x8; e.g. 1), got 100"),
    ("crop-padding-equal-image", [*TINY, "--out", "{tmp}/c2", "--set", "train.augment=crop,flip",
                                  "--set", "train.crop_padding=8"], "got 8"),
    # overwriting
    ("report-out-user-file", ["report", "{logged}", "--out", "{user_plots}"],
     "--out {user_plots} holds fitness.png, not written by vlga report; pass --force"),
    ("report-out-is-file", ["report", "{logged}", "--out", "{file}"],
     "--out {file} is a file, not a directory"),
    ("report-out-under-file", ["report", "{logged}", "--out", "{file}/plots"],
     "{file} is not a directory"),
    # run directories and data
    ("run-checkpoints-is-file", ["resume", "{checkpoints_file}", "--quiet"],
     "{checkpoints_file}/checkpoints is a file, not a directory: move it away"),
    ("run-final-is-file", ["resume", "{final_file}", "--quiet"], "final is a file"),
    ("run-logs-is-file", ["resume", "{logs_file}", "--quiet"], "logs is a file"),
    ("resume-json-string", ["resume", "{json_string}"],
     "run.json: damaged (a JSON str, not the object vlga writes"),
    ("resume-json-number", ["resume", "{json_number}"], "(a JSON int, not the object"),
    ("resume-no-dataset", ["resume", "{no_dataset}"], "run.json: damaged (no dataset;"),
    ("data-dir-is-file", ["run", "--dataset", "cifar10", "--data-dir", "/etc/passwd",
                          "--out", "{tmp}/d1"],
     "data_dir /etc/passwd is a file, not a directory: point it (--data-dir"),
    ("data-dir-is-file-digits", ["run", "--data-dir", "{file}", "--out", "{tmp}/d2"],
     "is a file, not a directory"),
]
CLI = CLI + CLI_NEW


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli_refuses_with_one_line(argv, fragment, paths, capsys):
    code, _, err = run_cli(expand(argv, paths), capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vlga: error: "), err
    assert fragment.format(**paths) in lines[0], err


def test_cli_refuses_export_damaged_model(paths, capsys):
    """export checks the model before copying it (run directories whose model.npz broke)."""
    for name in ("truncated", "flipped"):
        broken = paths["tmp"] / f"run_{name}"
        shutil.copytree(paths["no_model"], broken)
        shutil.copy(paths[name], broken / "model.npz")
        code, _, err = run_cli(["export", broken, "--to", paths["tmp"] / "x.npz"], capsys)
        assert code == 2 and "damaged" in err and len(err.strip().splitlines()) == 1, err
        assert not (paths["tmp"] / "x.npz").exists()


def test_cli_refuses_a_directory_another_process_runs(paths, capsys):
    holder = hold_lock(paths["locked"] / "lock")
    try:
        code, _, err = run_cli(["resume", paths["locked"]], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and f"in use by another process (pid {holder.pid})" in err, err


def test_every_candidate_failing_is_one_line_and_resume_says_the_same(paths, capsys,
                                                                      monkeypatch):
    """Every loss diverging (as a learning rate of 1e30 did before such rates were refused:
    the trainer's outcomes are marked as it marks a NaN loss)."""
    from vlga_jax.training.trainer import Trainer

    original = Trainer.train

    def diverging(self, members, n_epochs, **kw):
        return [dataclasses.replace(o, failed=True, val_acc=-np.inf,
                                    reason="loss became NaN or inf during training")
                for o in original(self, members, n_epochs, **kw)]

    monkeypatch.setattr(Trainer, "train", diverging)
    out = paths["tmp"] / "diverges"
    argv = [*TINY, "--out", out, "--quiet"]
    code, _, err = run_cli(expand(argv, paths), capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "every candidate of phase 0, generation 0 failed" in err
    assert "start a new run (another --out)" in err
    code, _, again = run_cli(["resume", out, "--quiet"], capsys)
    assert code == 2 and len(again.strip().splitlines()) == 1, again
    assert "every candidate of phase 0, generation 0 failed" in again


def test_report_out_never_replaces_the_users_files(paths, capsys):
    """vlga report --out: the user's fitness.png survives a refusal; --force replaces it;
    a folder vlga report wrote is written again without --force."""
    plots = paths["tmp"] / "plots_force"
    shutil.copytree(paths["user_plots"], plots)
    code, _, err = run_cli(["report", paths["logged"], "--out", plots], capsys)
    assert code == 2 and "holds fitness.png, not written by vlga report" in err
    assert (plots / "fitness.png").read_bytes() == b"the user's own plot"
    assert sorted(p.name for p in plots.iterdir()) == ["fitness.png"]  # nothing else left
    code, out, err = run_cli(["report", paths["logged"], "--out", plots, "--force"], capsys)
    assert code == 0, err
    assert (plots / "fitness.png").read_bytes().startswith(b"\x89PNG")
    assert f"wrote {plots / 'fitness.png'}" in out
    code, _, err = run_cli(["report", paths["logged"], "--out", plots], capsys)
    assert code == 0, err  # its own files, listed in .vlga-report.json
    fresh = paths["tmp"] / "plots_new" / "sub"
    code, _, err = run_cli(["report", paths["logged"], "--out", fresh], capsys)
    assert code == 0 and (fresh / "fitness.png").exists(), err


def test_user_objective_values_are_checked_where_evolve_calls_it(paths):
    """NaN raises naming the candidate (not 'loss NaN/inf'); with objective_errors='fail'
    those candidates are recorded as failed with the objective's reason; a length that
    changes raises. One generation of the tiny config each (its compiled programs)."""
    config = tiny_config(paths["cache"]).override(**{
        "ga.generations": 1, "ga.max_phases": 1, "train.final_epochs": 0})
    key = jax.random.key(KEY)
    with pytest.raises(ObjectiveError, match=r"objective returned nan \(not finite\) for "
                                             r"candidate [0-9a-f]{16} \(input \(8, 8, 1\)"):
        evolve(key, config, objective=lambda m: float("nan"))

    calls = []

    def some_none(metrics):
        calls.append(metrics)
        return None if len(calls) % 2 else metrics["val_acc"]

    result = evolve(key, config, objective=some_none, objective_errors="fail")
    failed = [c for c in result.candidates if c.failed]
    assert len(failed) == 2 and result.totals["failed"] == 2
    assert all(c.reason == "objective returned None (not a number or a sequence of numbers)"
               and c.fitness == -np.inf for c in failed)
    assert all(np.isfinite(c.fitness) for c in result.candidates if not c.failed)

    lengths = []

    def growing(metrics):
        lengths.append(1)
        return [metrics["val_acc"]] * min(len(lengths), 2)

    with pytest.raises(ObjectiveError, match="objective returned 2 values for candidate .*, 1 "
                                             "for earlier ones"):
        evolve(key, config, objective=growing)
    with pytest.raises(SearchFailed, match="every candidate of phase 0, generation 0 failed: "
                                           "objective returned inf"):
        evolve(key, config, objective=lambda m: float("inf"), objective_errors="fail")


def test_finished_run_without_model_resume_and_export_agree(paths, capsys, monkeypatch):
    """export says to resume; resume retrains the final model (it does not say 'finished')."""
    calls = []
    monkeypatch.setattr(cli.run, "_run_search", lambda config, key, out, quiet: calls.append(out)
                        or 0)
    code, out, _ = run_cli(["resume", paths["no_model"]], capsys)
    assert code == 0 and calls == [str(paths["no_model"])]
    assert "model.npz is missing; training the final model again" in out
    assert "nothing to resume" not in out


def test_predict_out_names_the_file_it_writes(paths, capsys):
    target = paths["tmp"] / "pred_noext"
    code, out, err = run_cli(["predict", paths["model"], paths["images"], "--out", target],
                             capsys)
    assert code == 0, err
    assert f"wrote {target}.npy: 6 predicted classes" in out
    assert not target.exists() and np.load(f"{target}.npy").shape == (6,)
    code, _, err = run_cli(["predict", paths["model"], paths["images"], "--out", target],
                           capsys)
    assert code == 2 and f"--out {target}.npy exists; pass --force" in err


def test_a_real_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "cmd_presets", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["presets"])


# -- the command line's --set parsing: the value the config gets -----------------------------

SET = [
    ("bool-no", "space.training_genes=no", ("space", "training_genes"), False),
    ("bool-yes", "space.training_genes=yes", ("space", "training_genes"), True),
    ("bool-zero", "train.pad_shapes=0", ("train", "pad_shapes"), False),
    ("bool-False", "run.verbose=False", ("run", "verbose"), False),
    ("tuple-one-int", "space.channels=16", ("space", "channels"), (16,)),
    ("tuple-ints", "space.channels=8,16", ("space", "channels"), (8, 16)),
    ("tuple-literal", "space.kernels=(1, 3)", ("space", "kernels"), (1, 3)),
    ("tuple-one-kernel", "space.kernels=3", ("space", "kernels"), (3,)),
    ("tuple-one-name", "space.activations=relu", ("space", "activations"), ("relu",)),
    ("tuple-names", "space.activations=relu,elu", ("space", "activations"), ("relu", "elu")),
    ("resize-one", "data.resize=8", ("data", "resize"), (8, 8)),
    ("resize-by", "data.resize=8x6", ("data", "resize"), (8, 6)),
    ("augment-names", "train.augment=crop,flip", ("train", "augment"), ("crop", "flip")),
    ("optional-none", "ga.stop_drop=none", ("ga", "stop_drop"), None),
    ("float-exponent", "train.learning_rate=1e-3", ("train", "learning_rate"), 1e-3),
    ("cost-cap", "train.max_candidate_gflop=0.1", ("train", "max_candidate_gflop"), 0.1),
    ("string-digits", "data.name=123", ("data", "name"), "123"),
    ("quoted-string", "data.name='digits'", ("data", "name"), "digits"),
]


@pytest.mark.parametrize("item, where, want", [c[1:] for c in SET], ids=[c[0] for c in SET])
def test_set_values_are_parsed_by_field_type(item, where, want):
    args = cli.make_parser().parse_args(["run", "--set", item])
    config = cli.build_config(args)
    got = getattr(getattr(config, where[0]), where[1])
    assert got == want and type(got) is type(want)


def test_set_gene_rates_and_grid_progress_total():
    base = Config.preset("tournament")
    rates = base.override(**{"ga.gene_rates": "units:0.15,dropout:0.1"}).ga.gene_rates
    assert rates == (("units", 0.15), ("dropout", 0.1))
    grid = Config.preset("grid").override(**{"ga.budget_epochs": None, "ga.population": 4,
                                             "space.max_blocks": 1, "ga.generations": 50})
    assert grid.grid_size() == 6 * 4 * 7 and grid.planned_generations() == 42
    budget = Config.preset("grid").override(**{"ga.budget_epochs": 1000})
    assert budget.planned_generations() == 10  # 1000 candidate-epochs / 5 epochs / 20


# -- the Python API: exception class and message --------------------------------------------

def _digits_arrays():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images[:300].astype(np.uint8), d.target[:300]


X, Y = _digits_arrays()

API = [
    # Config fields: type and range wherever set
    ("ga-population-str", lambda: GAConfig(population="many"), "ga.population must be an integer"),
    ("run-cache-dir-int", lambda: RunConfig(compile_cache_dir=5),
     "run.compile_cache_dir must be None or a string, got 5"),
    ("run-verbose-word", lambda: RunConfig(verbose="sometimes"), "run.verbose must be a boolean"),
    ("space-channels-float", lambda: SpaceConfig(channels=(8.5,)), "space.channels must be"),
    ("data-resize-negative", lambda: DataConfig(resize=(-1, 8)), "data.resize must be"),
    ("data-scaling", lambda: DataConfig(scaling="minmax"),
     "data.scaling must be one of ('standardize', 'unit'), got 'minmax'"),
    ("train-lr-inf", lambda: TrainConfig(learning_rate=float("inf")), "a finite number, got inf"),
    ("ga-gene-rates-scalar", lambda: GAConfig(strategy="tournament", elites=1, gene_rates=5),
     "ga.gene_rates must be pairs (gene name, rate"),
    ("config-section-int", lambda: Config(ga=5), "ga must be a GAConfig (or a dict"),
    ("config-section-unknown-field", lambda: Config(ga={"pop": 4}), "ga: unknown field(s)"),
    ("config-from-json-list", lambda: Config.from_json("[1, 2]"), "a config must be an object"),
    ("config-from-dict-none", lambda: Config.from_dict(None), "a config must be an object"),
    ("config-override-unknown", lambda: Config().override(**{"ga.nope": 1}),
     "unknown config field 'ga.nope'"),
    ("ga-bitflip-vlga", lambda: GAConfig(mutation_mode="bitflip"), "ga.mutation_mode must be"),
    ("config-grid-huge", lambda: Config(ga=GAConfig(strategy="grid")), "would train"),
    # Datasets
    ("labels-sparse", lambda: Dataset.from_arrays(X, np.where(Y < 5, 0, 1_000_000)),
     "labels are not 0..K-1"),
    ("labels-test-only", lambda: Dataset.from_arrays(X[Y < 9], Y[Y < 9], X, Y, num_classes=10),
     "test_y holds 1 class(es) absent from train_y (e.g. [9])"),
    ("labels-one-class", lambda: Dataset.from_arrays(X, np.zeros_like(Y), num_classes=2),
     "train_y holds only class 0"),
    ("channels-first", lambda: Dataset.from_arrays(np.zeros((60, 3, 20, 20), np.uint8),
                                                   np.arange(60) % 3),
     "looks channels-first (N, C, H, W) = (60, 3, 20, 20)"),
    ("channels-first-test", lambda: Dataset.from_arrays(
        X, Y, np.zeros((10, 1, 8, 8)), np.arange(10)), "test_x looks channels-first"),
    ("scales-differ", lambda: Dataset.from_arrays(X, Y, X / 16.0 / 255.0, Y),
     "different scales"),
    ("scales-255-vs-1", lambda: Dataset.from_arrays(
        (X * 15).astype(np.uint8), Y, X.astype(np.float32) / 16, Y), "different scales"),
    # Model files and images
    ("load-model-text", lambda: load_model(__file__), "not a vlga model file, or damaged"),
]


def _evaluation():
    """A cached candidate (no parameters) to hand to objectives."""
    from vlga_jax.runs.records import Evaluation
    from vlga_jax.training.trainer import Outcome

    arch = from_description({"blocks": [{"channels_a": 8, "kernel_a": 3}], "globals": {}},
                            input_shape=(8, 8, 1), num_classes=10)
    return Evaluation(arch, Outcome(None, None, 0.5, 1.0, 1.0, False, "", 0.1, None),
                      hash="c0ffee")


def _objective(value):
    return lambda: Objective(fn=lambda m: value).values(_evaluation(), 1)


API_NEW = [
    # a user objective's value, checked and named (candidate hash and architecture)
    ("objective-nan", _objective(float("nan")),
     "objective returned nan (not finite) for candidate c0ffee (input (8, 8, 1) | block_0"),
    ("objective-inf", _objective(float("inf")), "objective returned inf (not finite)"),
    ("objective-minus-inf", _objective(-np.inf), "returned -inf (not finite)"),
    ("objective-none", _objective(None),
     "objective returned None (not a number or a sequence of numbers) for candidate c0ffee"),
    ("objective-string", _objective("0.5"), "objective returned '0.5' (not a number"),
    ("objective-nested", _objective([[0.5, 1.0]]), "returned [[0.5, 1.0]] (not a number"),
    ("objective-empty", _objective([]), "objective returned [] (an empty sequence)"),
    ("objective-none-inside", _objective((0.5, None)), "returned (0.5, None)"),
    ("objective-nan-inside", _objective([0.5, float("nan")]), "(not finite)"),
    ("objective-bool", _objective(True), "objective returned True (not a number"),
    ("objective-dict", _objective({"acc": 0.5}), "objective returned {'acc': 0.5}"),
    ("objective-complex", _objective(1j), "objective returned 1j"),
    ("objective-2d-array", _objective(np.ones((2, 2))), "(not a number or a sequence"),
    ("objective-string-array", _objective(np.array(["a"])), "(not a number or a sequence"),
    ("objective-errors-unknown", lambda: Objective(fn=len, on_error="ignore"),
     "objective_errors must be one of ('raise', 'fail'), got 'ignore'"),
    # ranges and combinations through the Python API
    ("train-lr-1e9", lambda: TrainConfig(learning_rate=1e9), "train.learning_rate must be <= 10"),
    ("train-wd-1e9", lambda: TrainConfig(weight_decay=1e9), "train.weight_decay must be in [0, 1]"),
    ("ga-tournament-size", lambda: GAConfig(population=4, parent_selection="tournament",
                                            tournament_size=5),
     "ga.tournament_size must be <= ga.population (4)"),
    ("ga-elites-ignored", lambda: GAConfig(strategy="ga", elites=3), "it would be ignored"),
    ("ga-objectives-epochs", lambda: GAConfig(objectives=("epochs",)),
     "metrics that tell candidates apart"),
    ("config-objectives-halving", lambda: Config(
        ga=GAConfig(objectives=("-params",)), train=TrainConfig(halving_min_epochs=1)),
     "with successive halving (train.halving_min_epochs=1"),
    ("crop-padding-image", lambda: check_crop_padding(
        Config(train=TrainConfig(augment=("crop",), crop_padding=32)), (32, 32, 3)),
     "train.crop_padding must be < the images' size (32x32; e.g. 4), got 32"),
    ("data-dir-file", lambda: find_prepared("cifar10", "/etc/passwd"),
     "data_dir /etc/passwd is a file, not a directory"),
    ("distributed-port", lambda: distributed.check_arguments("h:65536", 2, 0),
     "a free port in [1, 65535]"),
    ("distributed-id-alone", lambda: distributed.check_arguments(None, None, 0),
     "--process-id needs --coordinator"),
]
API = API + API_NEW


@pytest.mark.parametrize("call, fragment", [c[1:] for c in API], ids=[c[0] for c in API])
def test_api_refuses_with_a_value_error(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)


def test_api_accepts_what_it_should_with_the_right_meaning():
    assert SpaceConfig(training_genes="no").training_genes is False
    assert SpaceConfig(channels=16).channels == (16,)
    assert SpaceConfig(activations="relu").activations == ("relu",)
    assert DataConfig(resize=8).resize == (8, 8)
    ga = GAConfig(population=np.int64(6), mutation_rate=np.float32(0.5))
    assert ga.population == 6 and type(ga.population) is int and ga.mutation_rate == 0.5
    assert Config.from_json(Config(ga=ga).to_json()).ga == ga
    assert TrainConfig(augment="crop,flip").augment == ("crop", "flip")
    assert Config(ga={"population": 4}).ga.population == 4


def test_api_model_files_and_images(paths):
    for name in ("truncated", "flipped", "npy_model", "empty"):
        with pytest.raises(ValueError, match=r"damaged|not an \.npz|a directory"):
            load_model(paths[name])
    model = load_model(paths["model"])
    with pytest.raises(ValueError, match="NaN or inf"):
        model.predict(np.load(paths["nan"]))


def test_model_file_bytes_depend_on_the_arrays_alone(tmp_path, digits_dataset, monkeypatch):
    """model.npz is the same bytes whatever the parameter dicts' order (a resumed run's
    come back sorted) and the clock (numpy's savez stamps the current time)."""
    import time
    import zipfile

    config = tiny_config(None)
    model = digits_model(config, digits_dataset)
    first = save_model(tmp_path / "a.npz", model, dataset=digits_dataset).read_bytes()

    def reversed_tree(tree):
        return {k: reversed_tree(v) if isinstance(v, dict) else v
                for k, v in reversed(list(tree.items()))}

    model.params = reversed_tree(model.params)
    later = time.time() + 3600 * 24 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "localtime", lambda t=None: time.gmtime(later))
    again = save_model(tmp_path / "b.npz", model, dataset=digits_dataset).read_bytes()
    assert first == again
    with zipfile.ZipFile(tmp_path / "b.npz") as zf:
        names = zf.namelist()
        assert names == sorted(names) and {i.date_time for i in zf.infolist()} == {
            (1980, 1, 1, 0, 0, 0)}
    loaded = load_model(tmp_path / "b.npz")
    assert jax.tree.structure(loaded.params) == jax.tree.structure(
        jax.tree.map(np.asarray, model.params))


def test_api_tiny_validation_split_warns():
    x, y = X[:40], Y[:40] % 2
    with pytest.warns(UserWarning, match=r"validation split holds only \d image"):
        Dataset.from_arrays(x, y, val_fraction=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_arrays(X, Y)  # 10% of 240 images: no warning


def test_api_run_json_edited_is_refused_on_resume(paths, digits_dataset):
    config, key = rundir.read_config(paths["edited"])
    assert config.ga.population == 6
    dataset = load_dataset("digits", subset=config.data.subset)
    run = rundir.RunDir(paths["edited"], config, key, dataset)
    try:
        with pytest.raises(ValueError, match=r"ga\.population: 4 in the checkpoints, 6 now"):
            run.restore()
    finally:
        run_lock.unlock(paths["edited"])


def test_table_size():
    """The tables: at least 60 bad inputs, then at least 60 more of the later kinds
    (several processes, objectives, overwriting, resume edges, values out of range)."""
    assert len(CLI) + len(SET) + len(API) >= 60 + len(CLI_NEW) + len(API_NEW)
    assert len(CLI_NEW) + len(API_NEW) >= 60
