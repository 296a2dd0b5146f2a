"""``python -m vlga_jax.cli``: the ``vlga`` command."""

import sys

from vlga_jax.cli import main

sys.exit(main())
