"""What tests of several levels share: running the CLI and observing hosts from outside."""
