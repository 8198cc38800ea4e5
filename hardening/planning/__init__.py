"""The plan: desired state against the facts; drift, the files to write, reload or restart."""
