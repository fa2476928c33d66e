"""Typing simulation: how many generations reach the model while the user types.

Types 30 characters at 60 ms intervals into a Python file, sending ``didChange`` and an
automatic inline completion request per keystroke and cancelling the previous request,
as VS Code does. The fake Ollama takes about 300 ms per generation. Prints JSON with the
generations that reached the backend and the streams left open afterwards.

Target (issue 2): <= 2 generations, 0 open streams.
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and this file would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import asyncio
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


from tests.fakes.fake_ollama import FakeOllama

from codehearth.client import ScriptedClient

TYPED = "total = compute_sum(values, 1)"
INTERVAL = 0.06
MODEL_SECONDS = 0.3
PREFIX = "def report(values):\n    "


async def main() -> None:
    assert len(TYPED) == 30
    with tempfile.TemporaryDirectory() as folder, FakeOllama() as fake:
        root = Path(folder)
        fake.set_text("\n    return total\n")
        fake.first_token_delay = MODEL_SECONDS / 2
        fake.token_delay = MODEL_SECONDS / 8
        options = {"ollama": {"host": fake.url, "warmUp": False}, "models": {"embedded": "off"}}
        async with ScriptedClient(root=root, initialization_options=options) as session:
            uri = session.open(root / "report.py", PREFIX + "\n", "python")
            requests: list[tuple[str, asyncio.Future]] = []
            started = time.perf_counter()
            for index in range(1, len(TYPED) + 1):
                session.replace_text(uri, PREFIX + TYPED[:index] + "\n")
                if requests and not requests[-1][1].done():
                    session.cancel(requests[-1][0])
                requests.append(session.request_inline_completion(uri, 1, 4 + index, invoked=False))
                await asyncio.sleep(INTERVAL)
            final = await requests[-1][1]
            answered = await asyncio.gather(*(f for _, f in requests), return_exceptions=True)
            typing_seconds = time.perf_counter() - started
            await asyncio.sleep(1.0)
            generations = fake.generations()
            result = {
                "benchmark": "typing-30-chars-at-60ms",
                "model_seconds": MODEL_SECONDS,
                "generations_reaching_backend": len(generations),
                "streams_closed_by_server": sum(g.client_disconnected for g in generations),
                "open_streams_after": fake.open_streams,
                "final_suggestion": [
                    item.insert_text
                    if isinstance(item.insert_text, str)
                    else item.insert_text.value
                    for item in final
                ],
                "requests_answered": len(answered),
                "requests_cancelled": sum(isinstance(a, Exception) for a in answered),
                "seconds_typing_to_answer": round(typing_seconds, 3),
                "target_generations_max": 2,
                "target_open_streams": 0,
            }
            result["meets_target"] = (
                result["generations_reaching_backend"] <= 2 and result["open_streams_after"] == 0
            )
            print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
