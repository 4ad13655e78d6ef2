"""The bundled sample persona and the local sample site that serves it (the one-command demo)."""
