"""Checking results against their source: inputs, parity, the LiteRT runner, latency."""
