"""LLM Twin shared library: settings, database access, schema, and the `twin` CLI."""

__version__ = "0.1.0"
