"""Ops toolkit: Invoke tasks for web apps on Postgres/Supabase.

The library lives in the domain packages (``ops.config``, ``ops.envcheck``,
``ops.pg``...) and never imports invoke; ``ops.tasks`` is the command line over it.
"""

__version__ = "0.1.0"
