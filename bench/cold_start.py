"""Time to the first suggestion when the completion model must load first.

A fresh ``codehearth serve`` with default settings, against the fake Ollama whose models
take 8 s to load and abort the load when the client hangs up (as Ollama does), while a
user types and pauses (tests/e2e/cold_start.py). Prints one JSON object: the time to the
first suggestion, the loads that completed and the loads that were aborted.

Target (issue 15): a suggestion after the load, and no load aborted.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import asyncio
import json
import tempfile
from pathlib import Path

from tests.e2e.cold_start import type_until_first_suggestion
from tests.fakes.fake_ollama import FakeOllama

LOAD_SECONDS = 8.0


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, FakeOllama() as fake:
        fake.load_seconds = LOAD_SECONDS
        seen = await type_until_first_suggestion(Path(folder), fake)
    result = {
        "benchmark": "cold_start",
        "model_load_seconds": LOAD_SECONDS,
        "seconds_to_first_suggestion": seen.seconds_to_first_suggestion,
        "suggestion": seen.suggestion,
        "completed_loads": seen.completed_loads,
        "aborted_loads": seen.aborted_loads,
        "loading_progress_shown": list(seen.progress_titles),
        "error_messages_shown": list(seen.messages),
        "meets_target": seen.seconds_to_first_suggestion is not None and seen.aborted_loads == 0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
