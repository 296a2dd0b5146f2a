"""The package's surface: one default config, documented fields, `vlga config`, the
names `import vlga_jax` gives, and the typing marker."""

import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

import vlga_jax
from vlga_jax.cli import main
from vlga_jax.config import PRESETS, SECTIONS, Config
from vlga_jax.config.doc import describe, field_docs


def test_config_is_the_default_search():
    assert Config() == Config.preset("quick")
    default = inspect.signature(vlga_jax.evolve).parameters["config"].default
    assert default is None and "Config()" in vlga_jax.evolve.__doc__
    # Sections on their own mean the same as in Config(): a partial Config is consistent.
    assert Config(ga=vlga_jax.GAConfig(population=4)).ga.max_phases == Config().ga.max_phases


def test_paper_preset_keeps_table_1():
    c = Config.preset("paper")
    assert c.space.channels == (8, 16, 32, 64, 128, 256, 512)
    assert c.space.kernels == (1, 3, 5, 7, 9)
    assert (c.train.final_epochs, c.train.patience) == (30, 5)


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_config_field_is_documented(section):
    cls = SECTIONS[section]
    docs = field_docs(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert sorted(docs) == sorted(names), f"{cls.__name__}: Attributes must list {names}"
    assert all(len(text) > 10 for text in docs.values())


@pytest.mark.parametrize("section", list(SECTIONS))
def test_config_fields_are_documented_once(section):
    """A field's meaning is in its class's Attributes section only, not again in a
    comment beside the field."""
    body = inspect.getsource(SECTIONS[section]).split('"""')[2]
    fields = body.split("def ")[0]
    assert [line for line in fields.splitlines() if line.strip().startswith("#")] == []


def test_vlga_config_prints_every_field_with_value_and_meaning(capsys):
    assert main(["config", "--preset", "paper", "--set", "ga.population=4"]) == 0
    out = capsys.readouterr().out
    config = Config.preset("paper").override(**{"ga.population": 4})
    assert out == describe(config) + "\n"
    assert "  ga.population = 4\n      candidates per generation." in out
    assert "  space.kernels = 1,3,5,7,9\n" in out
    keys = [line.split(" = ")[0].strip() for line in out.splitlines() if " = " in line]
    assert keys == [f"{s}.{f}" for s, d in Config().to_dict().items() for f in d]
    # Every printed value is valid --set text: it round-trips.
    values = dict(line.strip().split(" = ", 1) for line in out.splitlines() if " = " in line)
    assert Config.preset("paper").override(**{k: None if v == "none" else v
                                              for k, v in values.items()}) == config
    assert main(["config", "--json"]) == 0
    assert Config.from_json(capsys.readouterr().out) == Config()


def test_run_help_names_vlga_config(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "vlga config" in " ".join(capsys.readouterr().out.split())


def test_package_exposes_what_the_readme_uses():
    from vlga_jax.networks.export import load_model
    from vlga_jax.runs.progress import Progress

    assert Progress is vlga_jax.Progress and load_model is vlga_jax.load_model
    assert vlga_jax.PRESETS is PRESETS
    for name in vlga_jax.LAYERS:  # each layer is an attribute, loaded on first use
        assert getattr(vlga_jax, name) is importlib.import_module(f"vlga_jax.{name}")
        assert name in dir(vlga_jax)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vlga_jax.nope  # noqa: B018


def test_typing_marker_ships():
    package = Path(vlga_jax.__file__).parent
    assert (package / "py.typed").exists()
    pyproject = (package.parent / "pyproject.toml").read_text()
    assert 'vlga_jax = ["py.typed"]' in pyproject


def test_packaging_metadata_needs_no_deprecated_forms():
    """setuptools warns on every install about a TOML-table license (before 77 it could
    not read the SPDX string) and about its editable meta-path finder (a flat
    ``package-dir`` makes the editable install a plain .pth file instead)."""
    import tomllib

    package = Path(vlga_jax.__file__).parent
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in pyproject["build-system"]["requires"]
    assert pyproject["tool"]["setuptools"]["package-dir"] == {"": "."}
    assert "pandas" in pyproject["project"]["optional-dependencies"]
