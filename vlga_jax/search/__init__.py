"""The search loop: `evolve`, successive halving and retraining of the best candidates."""
