"""Tests that need no server, no database and no Redis: the core, sans-I/O pieces, fakes of
daphne's and autobahn's objects, code rules."""
