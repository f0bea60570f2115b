"""Tests through real daphne processes, Redis, PostgreSQL and Chromium."""
