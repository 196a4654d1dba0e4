"""Helpers for testing code against a real smarts3: a threaded server and pytest fixtures.

The storage adapter contract kit lives in ``smarts3.testing.contract``.
"""

from smarts3.testing.server import RunningServer, running_server, server_settings

__all__ = ["RunningServer", "running_server", "server_settings"]
