"""Static network descriptions, the Flax modules built from them, parameters and model files."""
