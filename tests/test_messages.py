"""The message tree: siblings from edits/regenerations, branches, navigation."""

from datetime import UTC, datetime, timedelta

from aeries.messages import Message, MessageTree

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def msg(mid: str, parent: str | None, role: str, minute: int) -> Message:
    return Message(mid, "c", parent, role, f"text {mid}", T0 + timedelta(minutes=minute))


def sample() -> MessageTree:
    # u1 → a1 ; a1 regenerated as a2 ; u1 edited as u2 → a3 ; a2 → u3 → a4
    return MessageTree(
        [
            msg("u1", None, "user", 0),
            msg("a1", "u1", "assistant", 1),
            msg("a2", "u1", "assistant", 2),
            msg("u2", None, "user", 3),
            msg("a3", "u2", "assistant", 4),
            msg("u3", "a2", "user", 5),
            msg("a4", "u3", "assistant", 6),
        ]
    )


def ids(messages: list[Message]) -> list[str]:
    return [m.id for m in messages]


def test_path_follows_parents_from_root():
    tree = sample()
    assert ids(tree.path("a4")) == ["u1", "a2", "u3", "a4"]
    assert ids(tree.path("a1")) == ["u1", "a1"]


def test_default_leaf_is_newest_branch():
    assert sample().default_leaf() == "a3"
    assert MessageTree().default_leaf() is None
    assert MessageTree().path(None) == []


def test_unknown_leaf_falls_back_to_default_branch():
    assert ids(sample().path("nope")) == ["u2", "a3"]


def test_siblings_and_position():
    tree = sample()
    assert ids(tree.siblings("a1")) == ["a1", "a2"]
    assert tree.position("a2") == (2, 2)
    assert tree.position("u3") == (1, 1)
    assert ids(tree.siblings("u2")) == ["u1", "u2"]


def test_switch_moves_between_siblings_and_descends_to_leaf():
    tree = sample()
    assert tree.switch("a1", +1) == "a4"  # a2's newest descendant
    assert tree.switch("a2", -1) == "a1"
    assert tree.switch("a1", -1) == "a1"  # clamped
    assert tree.switch("u1", +1) == "a3"


def test_children_keep_creation_order_regardless_of_input_order():
    shuffled = list(
        reversed(
            [
                msg("r", None, "user", 0),
                msg("x", "r", "assistant", 2),
                msg("y", "r", "assistant", 1),
            ]
        )
    )
    assert ids(MessageTree(shuffled).children("r")) == ["y", "x"]
