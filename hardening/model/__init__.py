"""The model: directives, profiles, the desired state, every input rule; errors and defaults."""
