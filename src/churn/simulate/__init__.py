"""The demo's simulated customer base, with its ground truth and oracle."""
