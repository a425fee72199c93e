"""Point-in-time features: one registry, the engine that computes them, the catalogue."""
