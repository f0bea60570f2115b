"""Tests of Django in this process: Channels' communicator, Django's test client, management
commands, settings and system checks, the test database."""
