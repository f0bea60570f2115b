"""Tests in one process: Channels' communicator, Django's test client, the database."""
