"""Leaves every layer may use: names, XLA flags, the checkpoint codec, devices and
processes, Pareto ranks."""
