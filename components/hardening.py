"""The provider's old module, kept only for stacks whose state still names it.

The program pickles SshdHardening's provider by reference into each resource's ``__provider``
(components/sshd_hardening/provider.py). ``pulumi refresh`` and ``pulumi destroy`` unpickle the
one recorded in the state, which, in a stack last deployed before the provider moved, names
``components.hardening.SshdHardeningProvider``: this keeps that name loadable. Import nothing
from here.
"""

from components.sshd_hardening.provider import SshdHardeningProvider

__all__ = ["SshdHardeningProvider"]
