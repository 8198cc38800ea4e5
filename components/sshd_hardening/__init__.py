"""SshdHardening: the sshd hardening of one server, as a resource in the Pulumi graph."""

from components.sshd_hardening.provider import SshdHardening, SshdHardeningArgs, key_or_unknown

__all__ = ["SshdHardening", "SshdHardeningArgs", "key_or_unknown"]
