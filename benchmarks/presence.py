"""Workload ``presence``: what presence costs on the Redis layer (``benchmarks.presence_probe``).

One row per shape: joins through one process until they are in Redis (and the Redis commands
they took, from ``INFO commandstats``), lone joins (one per loop iteration, nothing to batch
with), one diff fanned out to many subscribers, and one list of every entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.redis_chat import delete_keys, reachable
from benchmarks.report import Column, Table
from benchmarks.servers import REPO_ROOT
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
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "BUNWS_BENCH_DIR": str(ctx.workdir),
        "BUNWS_REDIS_URL": p.redis_url,
        "BUNWS_REDIS_PREFIX": prefix,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "benchmarks.presence_probe"]
    command += ["--joins", str(joins), "--subscribers", str(subscribers)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
        table.add(label, json.loads(done.stdout.strip().splitlines()[-1]))
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        table.add(label, error=one_line(exc))
    finally:
        delete_keys(p.redis_url, prefix)
    return [table]
