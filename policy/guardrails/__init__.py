"""Guardrail rules for hardened-ecs.

The rules are plain functions over plain dicts so that the offline gate
(`scripts/validate.py`) and the tests can run them without the Pulumi engine;
`guardrails.policies` wraps the same functions for pulumi-policy.
"""
