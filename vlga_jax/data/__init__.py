"""Datasets: loading, splitting and standardising arrays; reading images for prediction."""
