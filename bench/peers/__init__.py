"""The same small hardening done by other tools, for the latency benchmark (bench/latency.py)."""
