"""bunws's management commands run in this process, with their output captured."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def probe(*args: str) -> str:
    """``bunws_probe ARGS --timeout 3``: what it printed (it must succeed)."""
    out = StringIO()
    call_command("bunws_probe", *args, "--timeout", "3", stdout=out)
    return out.getvalue()


def failed_probe(*args: str) -> tuple[str, str]:
    """``bunws_probe ARGS --timeout 3``, which must fail: what it printed, and its error."""
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("bunws_probe", *args, "--timeout", "3", stdout=out)
    return out.getvalue(), str(failure.value)
