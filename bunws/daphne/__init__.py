"""Where bunws reaches past ASGI into daphne, Twisted and autobahn; the only package that
imports them (a test enforces it)."""
