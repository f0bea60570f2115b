"""The presence core without a server: entries, refs, listings and batched net diffs."""

from __future__ import annotations

import itertools

import pytest

from bunws.core.presence import Changes, Entry, Tracker, as_diff, net


def tracker() -> Tracker:
    ticks = itertools.count()
    return Tracker(clock=lambda: float(next(ticks)))


def diff_of(changes: Changes) -> dict[str, object]:
    return {topic: as_diff(*net(raw)) for topic, raw in changes.take().items()}


def test_two_sockets_with_one_key_are_two_metas_with_distinct_refs() -> None:
    t = tracker()
    r1 = t.track("tab1", "room", "alice", {"device": "web"})
    r2 = t.track("tab2", "room", "alice", {"device": "phone"})
    assert r1 != r2
    assert t.listed("room") == {
        "alice": [{"device": "web", "ref": r1}, {"device": "phone", "ref": r2}]
    }


def test_many_joins_in_one_period_make_one_diff_and_join_then_leave_makes_none() -> None:
    t = tracker()
    refs = [t.track(f"s{i}", "room", f"u{i}", {}) for i in range(100)]
    t.track("brief", "room", "ghost", {})
    t.untrack("brief", "room")
    diffs = diff_of(t.inbound)
    assert list(diffs) == ["room"]
    joins = diffs["room"]["joins"]  # type: ignore[index]
    assert len(joins) == 100 and "ghost" not in joins
    assert joins["u7"] == [{"ref": refs[7]}]
    assert diffs["room"]["leaves"] == {}  # type: ignore[index]
    assert not t.inbound  # taken


def test_update_is_a_leave_of_the_old_meta_and_a_join_of_the_new_under_one_ref() -> None:
    t = tracker()
    ref = t.track("s", "room", "bob", {"status": "online"})
    t.inbound.take()
    assert t.update("s", "room", {"status": "away"})
    t.update("s", "room", {"status": "busy"})
    assert diff_of(t.inbound)["room"] == {
        "joins": {"bob": [{"status": "busy", "ref": ref}]},
        "leaves": {"bob": [{"status": "online", "ref": ref}]},
    }
    t.update("s", "room", {"status": "busy"})
    assert diff_of(t.inbound) == {"room": {"joins": {}, "leaves": {}}}  # unchanged: empty


def test_drop_leaves_every_topic_and_untrack_is_false_when_untracked() -> None:
    t = tracker()
    t.track("s", "a", "k", {})
    t.track("s", "b", "k", {})
    t.inbound.take()
    t.drop("s")
    assert t.topics == {} and not t.is_tracking("s")
    assert set(diff_of(t.inbound)) == {"a", "b"}
    assert t.untrack("s", "a") is False
    assert t.update("s", "a", {}) is False


def test_meta_must_be_a_json_dict_without_ref_and_a_socket_tracks_a_topic_once() -> None:
    t = tracker()
    with pytest.raises(TypeError, match="JSON-serialisable"):
        t.track("s", "room", "k", {"when": object()})
    with pytest.raises(ValueError, match="'ref' is reserved"):
        t.track("s", "room", "k", {"ref": 1})
    with pytest.raises(TypeError, match="presence key is a str"):
        t.track("s", "room", 5, {})  # type: ignore[arg-type]
    t.track("s", "room", "k", None)
    with pytest.raises(ValueError, match="already tracked"):
        t.track("s", "room", "k", {})


def test_remote_diffs_merge_and_a_failed_send_is_put_back_under_later_changes() -> None:
    old = Entry("k", {"v": 1, "ref": "r"}, 0.0)
    new = Entry("k", {"v": 2, "ref": "r"}, 0.0)
    changes = Changes()
    changes.merge("room", [], [old])
    taken = changes.take()
    changes.merge("room", [old], [new])  # recorded while the first send was failing
    changes.put_back("room", taken["room"])
    leaves, joins = net(changes.take()["room"])
    assert leaves == [] and joins == [new]  # one join of the latest meta, never sent before


def test_socket_methods_use_the_injected_tracker_and_closing_leaves() -> None:
    from tests.support.fakes import make_socket

    t = tracker()
    ws, _ = make_socket()
    ws._presence = t
    ref = ws.track("room", "ann", {"a": 1})
    assert t.listed("room") == {"ann": [{"a": 1, "ref": ref}]}
    assert ws.update_presence("room", {"a": 2})
    ws.close()
    assert t.listed("room") == {}
    assert ws.track("room", "ann") == ""  # not open any more
