"""Workload ``recovery``: what recovery (docs/recovery.md) costs, on the Redis layer.

Two tables. **Publish path**: the cross-process chat of the ``redis`` workload (clients split
over two daphne processes, real sockets, picows clients) on the plain ``chat/`` endpoint and on
``rchat/`` with clients that offer ``bunws.v1``: every publish is appended to its Redis stream
before it is delivered, in offset order, with its envelope. Target: >= 0.7x the deliveries/s.
**Replay** (``benchmarks.recovery_probe``, one process, in-memory sockets): 1,000 sessions on one
topic go away, miss messages, and resume at once; how fast the missed messages are replayed,
plus the same in-process fan-out with recovery off and on, and Redis bytes per stored message.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack

from benchmarks.redis_chat import PUBSUB, delete_keys, reachable, run_probe
from benchmarks.report import Column, Table, Target
from benchmarks.servers import BUNWS, ServerError, ServerSpec
from benchmarks.workloads import (
    CLIENT_CPU,
    SERVER_CPU,
    SERVER_US,
    ClientError,
    Context,
    one_line,
)

OFF = "bunws, no recovery"
ON = "bunws + recovery (bunws.v1)"


def recovery(ctx: Context) -> list[Table]:
    p = ctx.params
    prefix = f"bunwsrecovery{os.getpid()}"
    # Bursts of 32 keep a round longer than the 64 ms floor, so the servers set the rate.
    burst = p.redis_burst if p.quick_mode else 32
    publish = Table(
        "recovery",
        f"recovery on the publish path: chat over Redis (RedisPubSubChannelLayer), "
        f"{p.chat_clients} clients split over 2 daphne processes, bursts of {burst}",
        [
            Column("messages_per_s", "msgs received/s (median 1 s)"),
            Column("mean_messages_per_s", "mean/s"),
            Column("rounds", "rounds", "{:d}"),
            CLIENT_CPU,
            SERVER_CPU,
            SERVER_US,
        ],
        metric="messages_per_s",
        baseline=OFF,
        notes=[
            f"Redis {p.redis_url}, key prefix {prefix}; the Redis server is not pinned; server "
            "CPU is the first daphne process's (each serves half the clients), per delivery "
            "of both"
        ],
        targets=[Target(f"{ON} >= 0.7x {OFF}", ON, 0.7, OFF)],
    )
    down = reachable(p.redis_url)
    env = (("BUNWS_REDIS_URL", p.redis_url), ("BUNWS_REDIS_LAYER", PUBSUB))
    spec: ServerSpec = dataclasses.replace(BUNWS, env=(*env, ("BUNWS_REDIS_PREFIX", prefix)))
    for label, path, extra in (
        (OFF, "chat/", []),
        (ON, "rchat/", ["--header", "Sec-WebSocket-Protocol: bunws.v1"]),
    ):
        if down:
            publish.add(label, error=down)
            continue
        try:
            with ExitStack() as stack:
                first = stack.enter_context(ctx.server(spec))
                second = stack.enter_context(ctx.server(spec))
                result = ctx.client(
                    f"recovery / {label}",
                    "chat",
                    *("--url", first.url(path), "--also-url", second.url(path), *extra),
                    *("--origin", first.origin, "--settle", "1.5"),
                    *("--clients", str(p.chat_clients), "--burst", str(burst)),
                    duration=p.fanout_duration,
                    server_pid=first.pid,
                )
        except (ServerError, ClientError, OSError) as exc:
            publish.add(label, error=one_line(exc))
            continue
        finally:
            delete_keys(p.redis_url, prefix)
        publish.add(label, result)
    return [publish, replay(ctx, prefix, down)]


def replay(ctx: Context, prefix: str, down: str | None) -> Table:
    p = ctx.params
    sessions, missed = 1000, (20 if p.quick_mode else 200)
    messages = 2000 if p.quick_mode else 20_000
    table = Table(
        "recovery-replay",
        f"replay: {sessions:,} sessions resume at once after missing {missed} messages each; "
        f"in-process fan-out of {messages:,} publishes to 100 subscribers",
        [
            Column("replay_per_s", "replayed msgs/s"),
            Column("sessions_per_s", "sessions resumed/s"),
            Column("resume_s", "all resumed (s)", "{:.2f}"),
            Column("deliveries_off", "in-process deliveries/s, off"),
            Column("deliveries_on", "on"),
            Column("ratio", "on/off", "{:.2f}x"),
            Column("stream_bytes_per_message", "Redis B/msg", "{:.0f}"),
        ],
        metric="replay_per_s",
        notes=[
            "one process, in-memory sockets (transports that count frames): recovery's own work "
            "without WebSocket I/O, so the in-process on/off ratio is a lower bound; the "
            "publish-path table above is the one with real sockets",
        ],
    )
    label = "bunws (RedisPubSubChannelLayer)"
    if down:
        table.add(label, error=down)
        return table
    args = ["--messages", str(messages), "--sessions", str(sessions), "--missed", str(missed)]
    try:
        result = run_probe(
            "benchmarks.recovery_probe",
            args,
            workdir=ctx.workdir,
            redis_url=p.redis_url,
            prefix=prefix + "probe",
            timeout=300,
        )
        table.add(label, result)
    except (RuntimeError, ValueError) as exc:
        table.add(label, error=one_line(exc))
    finally:
        delete_keys(p.redis_url, prefix + "probe")
    return table
