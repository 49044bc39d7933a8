"""The event-stream reader of the gateway's upstream client (gateway.upstream._events): however
the upstream's answer is cut into chunks, the same messages come out."""

import json

import pytest

from gateway.upstream import _events, run_sync


class Content:
    def __init__(self, chunks):
        self.chunks = chunks

    async def iter_any(self):
        for chunk in self.chunks:
            yield chunk


def read(chunks):
    async def run():
        return [m async for m in _events(Content(chunks).iter_any())]

    return run_sync(run)


MESSAGES = [
    {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}},
    {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "héllo ✓"}]}},
]


def stream(newline: str) -> bytes:
    events = [": priming\n", "id: 1\nevent: message\ndata:\n"]  # a comment, an empty event
    for m in MESSAGES:
        lines = json.dumps(m, ensure_ascii=False, indent=1).split("\n")  # over many data lines
        events.append("event: message\n" + "".join(f"data: {line}\n" for line in lines))
    return "\n".join(events).replace("\n", newline).encode() + newline.encode()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_cut_of_the_stream_gives_the_same_messages(newline):
    whole = stream(newline)
    assert [m for m in read([whole])] == MESSAGES
    for at in range(1, len(whole)):  # every cut: inside a CRLF, a character, a data line
        assert read([whole[:at], whole[at:]]) == MESSAGES, at
    assert read([whole[i : i + 1] for i in range(len(whole))]) == MESSAGES


def test_a_last_event_without_its_blank_line_is_read():
    assert read([b'data: {"jsonrpc": "2.0", "id": 1, "result": {}}']) == [
        {"jsonrpc": "2.0", "id": 1, "result": {}}
    ]


def test_data_that_is_not_a_json_object_is_skipped():
    assert read([b"data: [1, 2]\n\ndata: not json\n\n"]) == []
