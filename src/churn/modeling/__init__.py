"""Model, calibration, training, evaluation, baselines and the promotion gate."""
