"""The rewrite passes, one per module; a pass is named after its module."""
