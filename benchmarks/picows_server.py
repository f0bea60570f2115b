"""A trivial picows server (echo and fan-out) to show the client's own ceiling.

``python -m benchmarks.picows_server --port PORT``. It does in Cython what the bare ASGI apps do
through daphne, so the client numbers against it are an upper bound the client can drive.
"""

from __future__ import annotations

import argparse
import asyncio

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

_room: set[WSTransport] = set()


class Echo(WSListener):  # type: ignore[misc]
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            transport.send(frame.msg_type, frame.get_payload_as_memoryview())


class FanOut(WSListener):  # type: ignore[misc]
    def on_ws_connected(self, transport: WSTransport) -> None:
        _room.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        _room.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            payload = frame.get_payload_as_bytes()
            for member in _room:
                member.send(frame.msg_type, payload)


def listener_for(request: WSUpgradeRequest) -> WSListener:
    return FanOut() if request.path.rstrip(b"/").endswith(b"chat") else Echo()


async def serve(port: int) -> None:
    server = await ws_create_server(listener_for, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.picows_server")
    parser.add_argument("-p", "--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
