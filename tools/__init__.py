"""Developer tools for hardened-ecs that run without the Pulumi CLI or cloud credentials."""
