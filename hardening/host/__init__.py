"""The host: what it says (facts and their script) and where things live on it."""
