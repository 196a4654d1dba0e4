"""Administration commands of the ``smarts3`` CLI: ``bucket``, ``object``, ``user``, ``gc``, ``fsck``.

Each module defines ``register(subparsers)`` and is listed in ``smarts3.entrypoints.cli.EXTENSION_MODULES``.
They work on the data directory directly (through the filesystem adapter and the domain services, built from
the same settings as the server), so they need no running server, and are safe to run next to one.
"""
