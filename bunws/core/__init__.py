"""The server-free core: frames, the socket object, topics, options, limits and diagnoses.

Nothing here imports Django, Channels, asgiref, daphne, Twisted or autobahn (a test enforces it),
so every piece is unit-tested without a server, byte in and event out, as python-websockets
tests its sans-I/O protocol.
"""
