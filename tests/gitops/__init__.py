"""GitOps level: the GitHub workflows, the drift-check job and the offline validate gate."""
