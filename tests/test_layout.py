"""docs/layout.md is drawn from the tree: every layer and module with the first line of
its docstring; the README names the layers in order; no module is over 500 lines.
After moving or adding a module, redraw the page's tree: ``python tests/test_layout.py``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import vlga_jax

PACKAGE = Path(vlga_jax.__file__).parent
PAGE = PACKAGE.parent / "docs" / "layout.md"
BEGIN, END = "<!-- tree: begin -->", "<!-- tree: end -->"
MAX_LINES = 500


def _summary(path: Path) -> str:
    """The first sentence-line of ``path``'s module docstring, without markup."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def tree_text() -> str:
    """The package as markdown: one section per layer (bottom first), one line per module."""
    lines = []
    for rank, layer in enumerate(vlga_jax.LAYERS):
        folder = PACKAGE / layer
        init = folder / "__init__.py" if folder.is_dir() else PACKAGE / f"{layer}.py"
        lines.append(f"{rank}. **`{layer}/`**: {_summary(init)}")
        if folder.is_dir():
            for path in sorted(folder.glob("*.py")):
                if path.name != "__init__.py":
                    lines.append(f"   - `{path.name}`: {_summary(path)}")
    return "\n".join(lines)


def test_layout_page_is_the_tree():
    text = PAGE.read_text()
    assert BEGIN in text and END in text
    drawn = text.split(BEGIN)[1].split(END)[0].strip()
    assert drawn == tree_text(), "docs/layout.md is stale: run python tests/test_layout.py"


def test_readme_names_the_layers_in_order():
    readme = (PACKAGE.parent / "README.md").read_text()
    chain = " → ".join(f"`{layer}`" for layer in vlga_jax.LAYERS)
    assert chain in " ".join(readme.split())


def test_no_module_over_500_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


if __name__ == "__main__":
    text = PAGE.read_text()
    head, rest = text.split(BEGIN)
    PAGE.write_text(f"{head}{BEGIN}\n{tree_text()}\n{END}{rest.split(END)[1]}")
    sys.stdout.write(f"wrote {PAGE}\n")
