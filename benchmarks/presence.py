"""Workload ``presence``: what presence costs on the Redis layer (``benchmarks.presence_probe``).

One row per shape: joins through one process until they are in Redis (and the Redis commands
they took, from ``INFO commandstats``), lone joins (one per loop iteration, nothing to batch
with), one diff fanned out to many subscribers, and one list of every entry.
"""

from __future__ import annotations

import os

from benchmarks.redis_chat import delete_keys, reachable, run_probe
from benchmarks.report import Column, Table
from benchmarks.workloads import Context, one_line


def presence(ctx: Context) -> list[Table]:
    p = ctx.params
    joins = 2000 if p.quick_mode else 10_000
    subscribers = 1000
    prefix = f"bunwspresence{os.getpid()}"
    table = Table(
        "presence",
        f"presence on Redis: {joins:,} joins on one topic in one process, a diff to "
        f"{subscribers:,} subscribers, one list",
        [
            Column("joins_per_s", "joins/s (in Redis)"),
            Column("redis_commands_per_join", "Redis cmds/join (burst)", "{:.3f}"),
            Column("redis_commands_per_lone_join", "Redis cmds/join (lone)", "{:.2f}"),
            Column("fanout_ms", f"diff to {subscribers:,} subs (ms)", "{:.1f}"),
            Column("list_entries", "entries listed", "{:,d}"),
            Column("list_ms", "list (ms, 1 round trip)", "{:.1f}"),
        ],
        metric="joins_per_s",
        notes=[
            f"Redis {p.redis_url}, key prefix {prefix}; in-memory sockets on one loop: presence "
            "itself, not WebSocket I/O; the diff's handler JSON-encodes it once per socket",
        ],
    )
    label = "bunws (RedisPubSubChannelLayer)"
    down = reachable(p.redis_url)
    if down:
        table.add(label, error=down)
        return [table]
    args = ["--joins", str(joins), "--subscribers", str(subscribers)]
    try:
        probe = "benchmarks.presence_probe"
        result = run_probe(
            probe, args, workdir=ctx.workdir, redis_url=p.redis_url, prefix=prefix, timeout=120
        )
        table.add(label, result)
    except (RuntimeError, ValueError) as exc:
        table.add(label, error=one_line(exc))
    finally:
        delete_keys(p.redis_url, prefix)
    return [table]
