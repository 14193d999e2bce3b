"""Questions wait for a compute slot; a write never waits and takes one from them while it
runs (api/admission.py)."""

from __future__ import annotations

import threading

import pytest

from api.admission import ComputeSlots


class Question(threading.Thread):
    """A question that holds its slot until told to finish."""

    def __init__(self, slots: ComputeSlots) -> None:
        super().__init__(daemon=True)
        self.slots = slots
        self.inside = threading.Event()
        self.finish = threading.Event()

    def run(self) -> None:
        with self.slots.question():
            self.inside.set()
            assert self.finish.wait(timeout=30)


def test_a_running_write_leaves_one_question_fewer_and_returns_the_slot_when_done():
    slots = ComputeSlots(2)
    first, second = Question(slots), Question(slots)
    with slots.write():
        first.start()
        assert first.inside.wait(timeout=5)
        second.start()
        assert not second.inside.wait(timeout=0.3)  # the write holds the other slot
    assert second.inside.wait(timeout=5)  # the write is done: the second question goes in
    first.finish.set()
    second.finish.set()
    first.join(timeout=5)
    second.join(timeout=5)


def test_a_write_never_waits_for_questions():
    slots = ComputeSlots(2)
    held = [Question(slots), Question(slots)]
    for question in held:
        question.start()
        assert question.inside.wait(timeout=5)
    wrote = threading.Event()

    def write() -> None:
        with slots.write():
            wrote.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert wrote.wait(timeout=5)  # both slots are held by questions, the write went ahead
    third = Question(slots)
    third.start()
    assert not third.inside.wait(timeout=0.3)
    held[0].finish.set()
    assert third.inside.wait(timeout=5)
    for question in (*held, third):
        question.finish.set()
        question.join(timeout=5)


def test_one_question_still_computes_while_writes_run():
    slots = ComputeSlots(1)
    with slots.write(), slots.write():
        question = Question(slots)
        question.start()
        assert question.inside.wait(timeout=5)
        question.finish.set()
        question.join(timeout=5)


def test_no_slots_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        ComputeSlots(0)
