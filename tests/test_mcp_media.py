"""The media server over stdio: vision through the scripted model, transcription through a tiny fake."""

from __future__ import annotations

import json

import pytest

from fixtures.mcp_support import LocalHTTP, context_for
from memento_graph.toolbox import open_toolbox
from scripted_llm import Reply

pytestmark = pytest.mark.integration  # processes: see conftest.py

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f80f0000010101005b5a4b2f0000000049454e44ae426082"
)


async def test_vision_and_transcription(tmp_path, monkeypatch, llm):
    llm.rule(
        lambda req: any(isinstance(m.get("content"), list) for m in req["messages"]),
        Reply(content="A single red pixel."),
    )
    audio = LocalHTTP(
        {
            "/v1/audio/transcriptions": lambda h: (
                200,
                "application/json",
                json.dumps({"text": "the quick brown fox"}),
            )
        }
    )
    monkeypatch.setenv("MEMENTO_VISION_MODEL", "vision-test")
    monkeypatch.setenv("MEMENTO_TRANSCRIBE_MODEL", "whisper-test")
    monkeypatch.setenv("MEMENTO_TRANSCRIBE_BASE_URL", audio.url + "/v1")
    files = tmp_path / "files"
    files.mkdir()
    (files / "pixel.png").write_bytes(PNG)
    (files / "memo.wav").write_bytes(b"RIFF0000WAVEfmt fake audio")
    monkeypatch.setenv("MEMENTO_READ_ROOTS", str(files))
    try:
        async with open_toolbox(context_for(tmp_path / "home", "media")) as box:
            describe = box.find("media", "describe_image")
            answer = await describe.ainvoke(
                {"path": str(files / "pixel.png"), "question": "What colour?"}
            )
            text = await box.find("media", "transcribe_audio").ainvoke(
                {"path": str(files / "memo.wav")}
            )
            not_image = await describe.ainvoke({"path": str(files / "memo.wav")})
    finally:
        audio.stop()
    assert answer == "A single red pixel."
    sent = llm.requests()[0]
    assert sent["model"] == "vision-test"
    parts = sent["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What colour?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert text == "the quick brown fox"
    form = audio.requests[0]
    assert {k.lower(): v for k, v in form["headers"].items()}["authorization"] == "Bearer test"
    assert b'name="model"\r\n\r\nwhisper-test' in form["body"] and b"fake audio" in form["body"]
    assert not_image.startswith("Error: not an image")


async def test_media_not_offered_without_models(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMENTO_VISION_MODEL", raising=False)
    monkeypatch.delenv("MEMENTO_TRANSCRIBE_MODEL", raising=False)
    async with open_toolbox(context_for(tmp_path, "media")) as box:
        assert box.servers["media"] == "not configured"
