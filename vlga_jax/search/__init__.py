"""The search loop: `evolve` as a row of named steps, and the pieces those steps run."""
