"""Tests through what runs outside this process: real daphne processes, Redis, PostgreSQL,
Chromium, ``manage.py`` as a subprocess."""
