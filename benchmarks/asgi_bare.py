"""daphne target ``benchmarks.asgi_bare:application``: bare ASGI, no Django, no Channels."""

from __future__ import annotations

from benchmarks.apps import bare_application

application = bare_application
