"""Policy level: the policy pack's rules and the pack as Pulumi loads it."""
