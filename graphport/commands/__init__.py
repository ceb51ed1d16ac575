"""One module per command: the Python API the CLI and notebooks call."""
