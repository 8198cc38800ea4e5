"""SshdHardening: the sshd hardening of one server, as a resource in the Pulumi graph.

- resource.py: the resource and its arguments (what the program uses);
- provider.py: its provider's create/read/update/delete, done by the ``hardening`` engine;
- input_validation.py: the provider's input validation (Pulumi's ``Check``);
- settings.py: the property names, defaults and the typed settings of one operation.

The Pulumi type token (``pulumi-python:dynamic/hardening:SshdHardening``) and the property
names are the state's: they stay as they are.
"""

from components.sshd_hardening.resource import SshdHardening, SshdHardeningArgs, key_or_unknown

__all__ = ["SshdHardening", "SshdHardeningArgs", "key_or_unknown"]
