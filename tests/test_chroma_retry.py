"""A Chroma server's transient read error (a read racing another client's first writes) is retried."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from chromadb.errors import InternalError

from memento_graph.memory import chroma_client
from memento_graph.memory.chroma_client import Bank, Guarded

RACE = "Error executing plan: Internal error: Error creating hnsw segment reader: Nothing found on disk"


class Collection:
    def __init__(self, failures: int, message: str = RACE) -> None:
        self.failures, self.message, self.calls = failures, message, []

    def query(self, **kwargs):
        self.calls.append("query")
        if len(self.calls) <= self.failures:
            raise InternalError(self.message)
        return {"ids": [["a"]]}

    def add(self, **kwargs):
        self.calls.append("add")
        raise InternalError(RACE)


class Client:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    def get_collection(self, name):
        return self.collection


class FakeBank(Bank):
    def __init__(self, collection: Collection) -> None:
        self.client = Client(collection)

    @contextmanager
    def access(self, write):
        yield self.client


def test_a_read_that_races_first_writes_is_read_again():
    collection = Collection(failures=2)
    assert Guarded(FakeBank(collection), "cases").query(n_results=1) == {"ids": [["a"]]}
    assert collection.calls == ["query"] * 3


def test_a_read_that_keeps_failing_raises_after_a_few_seconds_at_most(monkeypatch):
    assert sum(chroma_client._RETRY_PAUSES) <= 3.2  # seconds, at most, before the error
    monkeypatch.setattr(chroma_client, "_RETRY_PAUSES", (0.0,) * 6)  # no wall-clock wait here
    collection = Collection(failures=100)
    with pytest.raises(InternalError, match="Nothing found on disk"):
        Guarded(FakeBank(collection), "cases").query(n_results=1)
    assert len(collection.calls) == 7


def test_other_errors_and_writes_are_not_repeated():
    other = Collection(failures=1, message="something else broke")
    with pytest.raises(InternalError, match="something else"):
        Guarded(FakeBank(other), "cases").query(n_results=1)
    assert other.calls == ["query"]
    writes = Collection(failures=0)
    with pytest.raises(InternalError):
        Guarded(FakeBank(writes), "cases").add(ids=["a"])
    assert writes.calls == ["add"]
