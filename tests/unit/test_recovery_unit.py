"""Recovery's pure pieces (docs/recovery.md): the bunws.v1 envelopes, the per-topic delivery
order, the endpoint option, and the in-memory store."""

from __future__ import annotations

import json

import pytest

from bunws.cluster.recovery_store import MemoryStore
from bunws.core.envelope import (
    StampedFrame,
    control,
    decode,
    direct,
    new_session_id,
    published,
    resume_offer,
)
from bunws.core.frame import Frame
from bunws.core.options import MappingError
from bunws.core.recovery import MAX_PENDING, RecoveryConfig, Sequence, parse_recovery

# -- envelopes --------------------------------------------------------------------------------


def test_a_published_text_message_is_p_header_newline_payload_and_decodes_back() -> None:
    message = published("lobby", 17, "hi\nthere")
    assert message == 'p["lobby",17]\nhi\nthere'
    assert decode(message) == ("p", ["lobby", 17], "hi\nthere")


def test_a_topic_with_line_breaks_and_non_ascii_keeps_the_header_on_one_line() -> None:
    topic = 'room\n"é"\r\u2028'
    message = published(topic, None, "x")
    assert isinstance(message, str) and message.count("\n") == 1
    assert decode(message) == ("p", [topic, None], "x")


def test_binary_messages_keep_their_bytes_and_type() -> None:
    message = published("t", 3, b"\x00\n\xff")
    assert message == b'p["t",3]\n\x00\n\xff'
    assert decode(message) == ("p", ["t", 3], b"\x00\n\xff")
    assert direct(b"\x01") == b"m\x01" and decode(b"m\x01") == ("m", None, b"\x01")


def test_direct_and_control_messages() -> None:
    assert direct("hello") == "mhello" and decode("m") == ("m", None, "")
    text = control("welcome", session="abc", recovered=True)
    assert text[0] == "c" and json.loads(text[1:]) == {
        "type": "welcome",
        "session": "abc",
        "recovered": True,
    }
    with pytest.raises(ValueError):
        decode("xnot an envelope")
    with pytest.raises(TypeError):
        direct(3)  # type: ignore[arg-type]


def test_a_resume_offer_is_a_well_formed_session_id_among_the_subprotocols() -> None:
    session = new_session_id()
    assert resume_offer(("bunws.v1", f"bunws.resume.{session}")) == session
    assert resume_offer(("bunws.v1",)) is None
    assert resume_offer(("bunws.resume.short",)) is None  # not an id bunws issued


def test_a_stamped_frame_is_the_raw_payload_for_plain_sockets_and_one_shared_envelope() -> None:
    frame = StampedFrame("hello", True, "room", 5)
    assert isinstance(frame, Frame) and frame.data == "hello" and frame.size == 5
    envelope = frame.enveloped()
    assert envelope is frame.enveloped()  # built once for every bunws.v1 subscriber
    assert envelope.data == 'p["room",5]\nhello' and envelope.compress is True


# -- the per-topic order ---------------------------------------------------------------------


def test_messages_in_order_are_delivered_at_once_and_duplicates_dropped() -> None:
    sequence: Sequence[str] = Sequence(10)
    assert sequence.offer(11, "a", 0.0) == ["a"]
    assert sequence.offer(11, "a again", 0.0) == []
    assert sequence.offer(9, "before the start", 0.0) == []
    assert sequence.last == 11


def test_an_early_message_waits_for_the_ones_before_it() -> None:
    sequence: Sequence[str] = Sequence(0)
    assert sequence.offer(3, "c", 0.0) == []
    assert sequence.offer(2, "b", 0.1) == []
    assert sequence.missing(0.2, 0.5) is None  # not waited long enough
    assert sequence.offer(1, "a", 0.3) == ["a", "b", "c"]
    assert sequence.missing(10.0, 0.5) is None and sequence.last == 3


def test_a_gap_is_read_from_the_store_after_the_wait_and_given_up_where_it_is_missing() -> None:
    sequence: Sequence[str] = Sequence(0)
    sequence.offer(4, "d", 1.0)
    assert sequence.missing(1.6, 0.5) == (1, 3)
    assert sequence.fill([(1, "a"), (3, "c")], 3) == ["a", "c", "d"]  # 2 is lost
    assert sequence.last == 4 and not sequence.pending


def test_a_topic_starting_here_holds_messages_until_the_store_says_where_it_stands() -> None:
    sequence: Sequence[str] = Sequence()
    assert sequence.offer(7, "g", 0.0) == [] and sequence.offer(6, "f", 0.0) == []
    assert sequence.start(5) == ["f", "g"]


def test_too_many_waiting_messages_read_the_gap_at_once() -> None:
    sequence: Sequence[int] = Sequence(0)
    for n in range(2, MAX_PENDING + 2):
        sequence.offer(n, n, 0.0)
    assert sequence.missing(0.0, 60.0) == (1, 1)


# -- the option --------------------------------------------------------------------------------


def test_the_recovery_option_defaults_and_values() -> None:
    assert parse_recovery("chat", None) is None and parse_recovery("chat", False) is None
    assert parse_recovery("chat", True) == RecoveryConfig(120, 10_000, False, True)
    assert parse_recovery("chat", {"window": 5, "refetch": True}) == RecoveryConfig(
        5, 10_000, True, True
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"windw": 5}, "unknown key 'windw'; the keys are 'window', 'max_per_topic'"),
        ({"window": 0}, "'window' must be a whole number of seconds from 1 to 86,400, got 0"),
        ({"max_per_topic": 2.5}, "'max_per_topic' must be a whole number of messages"),
        ({"presence": "yes"}, "'presence' must be True or False, got 'yes'"),
        (120, "expected True or a dict such as {'window': 120}, got 120"),
    ],
)
def test_a_wrong_recovery_option_names_the_endpoint_the_key_and_the_fix(
    value: object, says: str
) -> None:
    with pytest.raises(MappingError) as error:
        parse_recovery("chat", value)
    assert "recovery option of endpoint 'chat'" in str(error.value) and says in str(error.value)


# -- the in-memory store -----------------------------------------------------------------------


async def test_the_memory_store_keeps_consecutive_offsets_trimmed_by_cap_and_time() -> None:
    now = [0.0]
    store = MemoryStore(retention=10, cap=3, clock=lambda: now[0])
    head = await store.init("t", keep=10)
    offsets = await store.append([("t", f"m{i}", False, "") for i in range(5)])
    assert offsets == list(range(head + 1, head + 6))
    entries, last = await store.read("t", head, 100)
    assert [data for _, data, _, _ in entries] == ["m2", "m3", "m4"] and last == head + 5
    now[0] = 20.0
    store.append_now("t", b"new", True, "client-1")
    entries, _ = await store.read("t", head, 100)
    assert entries == [(head + 6, b"new", True, "client-1")]  # the others were too old


async def test_the_memory_store_records_from_outside_only_recorded_topics() -> None:
    now = [0.0]
    store = MemoryStore(retention=10, cap=10, clock=lambda: now[0])
    assert await store.stamp("t", "x", False) is None
    await store.init("t", keep=5)
    assert isinstance(await store.stamp("t", "x", False), int)
    assert await store.recorded() == {"t"}
    now[0] = 6.0
    assert await store.recorded() == set() and await store.stamp("t", "y", False) is None


async def test_a_session_resumes_once_and_not_after_it_expired() -> None:
    now = [0.0]
    store = MemoryStore(retention=10, cap=10, clock=lambda: now[0])
    await store.save([("s1", "{}", 5, False), ("s2", "{}", 5, False)])
    await store.save([("gone", "{}", 5, True)])  # exists=True: never recreated
    assert await store.take("s1") == "{}" and await store.take("s1") is None
    assert await store.take("gone") is None
    now[0] = 6.0
    assert await store.take("s2") is None


async def test_session_writes_go_out_in_order_so_an_older_record_never_wins() -> None:
    import asyncio

    from bunws.cluster.recovery_sessions import Sessions

    store = MemoryStore(retention=10, cap=10)
    sessions = Sessions(asyncio.get_running_loop(), store, failed=lambda exc: None)
    sessions.save(("s", '{"v": 1}', 60, False))
    sessions.save(("s", '{"v": 2}', 60, True))  # only over itself: needs the first one first
    sessions.end("s", 5)
    sessions.save(("gone", "{}", 60, False))
    sessions.end("gone", None)
    while sessions._writing:
        await asyncio.sleep(0)
    assert await store.take("s") == '{"v": 2}'
    assert await store.take("gone") is None


def test_an_endpoint_with_recovery_offers_bunws_v1_and_a_bad_option_stops_startup() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from bunws.endpoint import Endpoint

    endpoint = Endpoint("r/", websocket={"open": print}, name="r", recovery={"window": 5})
    assert endpoint.recovery == RecoveryConfig(5, 10_000, False, True)
    assert endpoint.subprotocols == ("bunws.v1",)
    plain = Endpoint("p/", websocket={"open": print}, name="p")
    assert plain.recovery is None and plain.subprotocols == ()
    with pytest.raises(ImproperlyConfigured, match="recovery option of endpoint 'bad'"):
        Endpoint("b/", websocket={"open": print}, name="bad", recovery={"window": -1})


def test_the_stored_kind_field_carries_type_compression_and_the_skipped_sender() -> None:
    from bunws.cluster.recovery_store import kind

    assert kind("text", False) == "t" and kind(b"bin", True) == "bz"
    assert kind("text", True, "abc").partition(":") == ("tz", ":", "abc")


def test_the_browser_client_ships_as_package_data_and_never_calls_fetch() -> None:
    import tomllib
    from pathlib import Path

    import bunws

    static = Path(bunws.__file__).parent / "static" / "bunws"
    source = (static / "client.js").read_text()
    assert (static / "client.d.ts").exists()
    calls = [line for line in source.splitlines() if "fetch(" in line]
    assert all(line.lstrip().startswith("//") for line in calls), calls  # only in comments
    assert "export function connect(" in source
    assert not [line for line in source.splitlines() if line.startswith("import ")]  # no dependency
    pyproject = tomllib.loads((Path(bunws.__file__).parents[1] / "pyproject.toml").read_text())
    assert "static/**/*" in pyproject["tool"]["setuptools"]["package-data"]["bunws"]
