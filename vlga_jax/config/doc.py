"""Every config field with its value and meaning (``vlga config``), from the docstrings.

Each config class documents its fields in an ``Attributes:`` section of its docstring;
`field_docs` reads it, so the documentation has one source.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap

from vlga_jax.config.config import SECTIONS, Config

_ENTRY = re.compile(r"^    (\w+): ?(.*)$")


def field_docs(cls) -> dict[str, str]:
    """``{field name: meaning}`` from the ``Attributes:`` section of ``cls``'s docstring."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    docs: dict[str, str] = {}
    name = None
    inside = False
    for line in lines:
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith("    "):
            break  # the next section
        match = _ENTRY.match(line)
        if match:
            name = match.group(1)
            docs[name] = match.group(2).strip()
        elif name and line.strip():
            docs[name] += " " + line.strip()
    return docs


def describe(config: Config, width: int = 100) -> str:
    """One entry per field, ``section.field = value`` then its meaning, grouped by section.

    The keys are what ``vlga run --set KEY=VALUE`` and `Config.override` take.
    """
    out = []
    for section, cls in SECTIONS.items():
        out.append(f"[{section}] {inspect.cleandoc(cls.__doc__ or '').splitlines()[0]}")
        docs = field_docs(cls)
        value = getattr(config, section)
        for f in dataclasses.fields(cls):
            out.append(f"  {section}.{f.name} = {_text(getattr(value, f.name))}")
            out.extend(textwrap.wrap(docs.get(f.name, "(undocumented)"), width,
                                     initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(out)


def _text(value) -> str:
    """``value`` as ``--set`` text."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        if not value:
            return "()"
        if isinstance(value[0], tuple):
            return ",".join(f"{k}:{v}" for k, v in value)
        return ",".join(map(str, value))
    return str(value)
