"""Front ends: the command line, fleet mode and its inventory, terminal display."""
