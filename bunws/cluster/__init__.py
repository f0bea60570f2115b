"""Many processes as one: publishing from anywhere, the channel-layer bridge between processes,
and the Redis-backed subscriber counts."""
