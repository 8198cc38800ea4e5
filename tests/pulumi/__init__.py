"""Pulumi level: the real CLI and engine, the provider over gRPC, and the engine projects here."""
