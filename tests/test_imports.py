"""The package's import graph has one direction: no module imports, even inside a
function, a module that (directly or not) imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import vlga_jax

ROOT = Path(vlga_jax.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path, modules) -> set[str]:
    """The package modules ``name`` imports anywhere in its source (function bodies too).
    ``from a.b import c`` counts as a.b.c when that is a module, else a.b; importing a
    module of a subpackage from outside it also runs (imports) the subpackage."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    deps = set()
    for mod in found:
        if mod not in modules:
            continue
        deps.add(mod)
        parent = mod.rpartition(".")[0]
        if parent not in ("", "vlga_jax") and not name.startswith(parent):
            deps.add(parent)
    return deps - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first == last), or None."""
    colour = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the path, 2 done

    def visit(node, path):
        colour[node] = 1
        for nxt in sorted(graph[node]):
            if colour[nxt] == 1:
                return [*path[path.index(nxt):], node, nxt] if nxt in path else [node, nxt]
            if colour[nxt] == 0 and (found := visit(nxt, [*path, node])):
                return found
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour[node] == 0 and (found := visit(node, [])):
            return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_graph_sees_function_level_imports():
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    # export is imported inside RunDir.finish
    assert "vlga_jax.networks.export" in graph["vlga_jax.runs.rundir"]
    assert "vlga_jax.strategies" in graph["vlga_jax.search.evolve"]


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_names_is_a_leaf():
    modules = _modules()
    assert _imported("vlga_jax.core.names", modules["vlga_jax.core.names"], modules) == set()


def test_deterministic_gpu_flags_are_added_once_and_respect_the_user():
    from vlga_jax.core import xla_flags

    env = {"XLA_FLAGS": "--xla_gpu_autotune_level=4"}
    assert xla_flags.add_deterministic_gpu_flags(env) == ["--xla_gpu_deterministic_ops=true"]
    assert env["XLA_FLAGS"] == "--xla_gpu_autotune_level=4 --xla_gpu_deterministic_ops=true"
    assert xla_flags.add_deterministic_gpu_flags(env) == []  # nothing twice
    off = {"VLGA_GPU_DETERMINISM": "0"}
    assert xla_flags.add_deterministic_gpu_flags(off) == [] and "XLA_FLAGS" not in off
    import os

    assert all(f.split("=")[0] in os.environ["XLA_FLAGS"]
               for f in xla_flags.DETERMINISTIC_GPU_FLAGS)  # set by `import vlga_jax`


def _layer(module: str) -> int:
    """The rank of ``module``'s layer in `vlga_jax.LAYERS` (the package itself: above all)."""
    parts = module.split(".")
    return vlga_jax.LAYERS.index(parts[1]) if len(parts) > 1 else len(vlga_jax.LAYERS)


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                  if _layer(b) > _layer(a))


def test_upward_finder_finds_an_upward_import():
    graph = {"vlga_jax.genetics.space": {"vlga_jax.core.names", "vlga_jax.training.cost"}}
    assert _upward(graph) == ["vlga_jax.genetics.space -> vlga_jax.training.cost"]


def test_no_import_up_the_layers():
    """A module imports only from its own layer and the layers before it."""
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    assert _upward(graph) == []


def test_every_module_lives_in_a_layer():
    """Nothing but the package's __init__ sits outside the layers' subpackages."""
    strays = [name for name in _modules()
              if name != "vlga_jax" and name.split(".")[1] not in vlga_jax.LAYERS]
    assert strays == []
    assert all(getattr(vlga_jax, layer).__name__ == f"vlga_jax.{layer}"
               for layer in vlga_jax.LAYERS)
