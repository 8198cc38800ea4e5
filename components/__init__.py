"""hardened-ecs Pulumi components, one module each.

Deliberately imports nothing: a dynamic provider module in this package is re-imported in
Pulumi's provider process, which then runs this file too; it must stay free of side effects
and cheap. Import from the submodules (``from components.server import Server``).
"""
