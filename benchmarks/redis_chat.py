"""Workload ``redis``: the chat shape across two daphne processes that share a Redis.

Clients alternate between the two servers, so most deliveries cross processes through the
channel layer. bunws uses its bridge (``bunws.cluster.bridge``) over the layer named by
``BUNWS_REDIS_LAYER``; the Channels rows are the ``ChatConsumer`` with ``group_send``. Each run
uses its own Redis DB and key prefix (pub/sub channels ignore the DB number) so concurrent test
runs on the same Redis are not disturbed, and deletes its keys afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from contextlib import ExitStack
from urllib.parse import urlsplit

from benchmarks.report import Column, Table, Target
from benchmarks.servers import BUNWS, CHANNELS, ServerError, ServerSpec
from benchmarks.workloads import CLIENT_CPU, ClientError, Context, one_line

PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
CORE = "channels_redis.core.RedisChannelLayer"
BUNWS_PUBSUB = "bunws (RedisPubSubChannelLayer)"
BUNWS_CORE = "bunws (RedisChannelLayer)"
CHANNELS_PUBSUB = "Channels (RedisPubSubChannelLayer)"
CHANNELS_CORE = "Channels (RedisChannelLayer)"
ROWS = [
    (CHANNELS_CORE, CHANNELS, CORE),
    (CHANNELS_PUBSUB, CHANNELS, PUBSUB),
    (BUNWS_PUBSUB, BUNWS, PUBSUB),
    (BUNWS_CORE, BUNWS, CORE),
]


def reachable(url: str) -> str | None:
    """None when something listens at the Redis URL's host and port, else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"Redis is not reachable at {host}:{port} ({exc.strerror or exc})"


def delete_keys(url: str, prefix: str) -> None:
    """Drop what RedisChannelLayer left behind (group sets live a day by default)."""
    try:
        import redis
    except ImportError:  # channels_redis depends on it; nothing to clean without it
        return
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


def run_probe(
    module: str, args: list[str], *, workdir: object, redis_url: str, prefix: str, timeout: float
) -> dict[str, object]:
    """Run an in-process probe (``python -m module args``) on the Redis layer with the bench
    settings; return the JSON object its last stdout line holds, or raise RuntimeError."""
    import json
    import subprocess
    import sys

    from benchmarks.servers import REPO_ROOT

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "BUNWS_BENCH_DIR": str(workdir),
        "BUNWS_REDIS_URL": redis_url,
        "BUNWS_REDIS_PREFIX": prefix,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(one_line(exc)) from None
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def redis_chat(ctx: Context) -> list[Table]:
    p = ctx.params
    prefix = f"bunwsbench{os.getpid()}"
    table = Table(
        "redis",
        f"cross-process chat over Redis: {p.chat_clients} clients split over 2 daphne "
        f"processes, bursts of {p.redis_burst}, sender included",
        [
            Column("messages_per_s", "msgs received/s (median 1 s)"),
            Column("mean_messages_per_s", "mean/s"),
            Column("rounds", "rounds", "{:d}"),
            CLIENT_CPU,
        ],
        metric="messages_per_s",
        baseline=CHANNELS_PUBSUB,
        compare=[(BUNWS_PUBSUB, CHANNELS_CORE), (BUNWS_CORE, CHANNELS_CORE)],
        notes=[
            f"Redis {p.redis_url}, key prefix {prefix}; both daphne processes share the server "
            "CPU; the Redis server is not pinned",
        ],
        targets=[
            Target(f"{BUNWS_PUBSUB} >= 10x {CHANNELS_PUBSUB}", BUNWS_PUBSUB, 10.0, CHANNELS_PUBSUB),
            Target(f"{BUNWS_PUBSUB} >= 10x {CHANNELS_CORE}", BUNWS_PUBSUB, 10.0, CHANNELS_CORE),
        ],
    )
    rows = ROWS
    if p.quick_mode:  # the smoke run keeps one row per library: same layer class, same Redis
        rows = [row for row in ROWS if row[0] in (CHANNELS_PUBSUB, BUNWS_PUBSUB)]
        table.targets = [t for t in table.targets if t.reference == CHANNELS_PUBSUB]
        table.compare = []
    down = reachable(p.redis_url)
    for label, base, layer in rows:
        if down:
            table.add(label, error=down)
            continue
        env = (
            ("BUNWS_REDIS_URL", p.redis_url),
            ("BUNWS_REDIS_LAYER", layer),
            ("BUNWS_REDIS_PREFIX", prefix),
        )
        spec: ServerSpec = dataclasses.replace(base, env=env)
        try:
            with ExitStack() as stack:
                first = stack.enter_context(ctx.server(spec))
                second = stack.enter_context(ctx.server(spec))
                result = ctx.client(
                    f"redis / {label}",
                    "chat",
                    *("--url", first.url("chat/"), "--also-url", second.url("chat/")),
                    *("--origin", first.origin, "--settle", "1.0"),
                    *("--clients", str(p.chat_clients), "--burst", str(p.redis_burst)),
                    duration=p.fanout_duration,
                )
        except (ServerError, ClientError, OSError) as exc:
            table.add(label, error=one_line(exc))
            continue
        finally:
            delete_keys(p.redis_url, prefix)
        table.add(label, result)
    return [table]
