"""Many processes as one: what they agree on (``layer``), publishing from anywhere (``publish``),
the channel-layer bridge between processes (``bridge``) and the Redis-backed counts (``counts``)."""
