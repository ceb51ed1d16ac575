"""Graph repairs: one pass per module, registered by name (see base.py)."""
