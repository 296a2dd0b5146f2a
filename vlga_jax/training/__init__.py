"""Batched training of candidates: cost model, planner, compiled programs and the trainer."""
