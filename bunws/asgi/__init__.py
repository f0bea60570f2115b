"""The ASGI layer: each endpoint's ASGI app, its Channels routes, the origin policy, the
transport interface with its server-neutral version, and the hand-off to the socket loop."""
