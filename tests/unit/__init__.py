"""Tests that need no server and no database: the core, sans-I/O pieces, code rules."""
