"""The thin shell: end-to-end runs that read files, talk to MLflow and read the clock.

Each module wires pure stage functions together for one CLI command (``train``, ``score``);
the logic lives in the stage modules, so these stay short and are tested end to end.
"""
