"""Unit level: pure tests over recorded facts and the program under mocks (no hosts, no CLI)."""
