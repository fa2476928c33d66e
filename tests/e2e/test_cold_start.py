"""A first run as users have it: the completion model is not in memory and takes longer
to load than any answer may take. The load must not be cut (a hang-up makes Ollama abort
it, so the model would never get warm), and the editor sees one 'loading' progress item,
then the first suggestion."""

from __future__ import annotations

from pathlib import Path

from codehearth.settings import CompletionSettings
from tests.e2e.cold_start import MODEL_SAYS, type_until_first_suggestion
from tests.fakes.fake_ollama import FakeOllama

LOAD_SECONDS = 8.0  # twice completion.stallSeconds' default, as a 7b model read from disk


async def test_a_slow_first_load_is_never_cut_and_the_suggestion_follows_it(
    tmp_path: Path,
) -> None:
    with FakeOllama() as fake:
        fake.load_seconds = LOAD_SECONDS
        seen = await type_until_first_suggestion(tmp_path, fake)
    assert seen.suggestion == MODEL_SAYS.rstrip("\n"), seen
    assert seen.seconds_to_first_suggestion is not None
    assert seen.seconds_to_first_suggestion >= LOAD_SECONDS
    assert (seen.completed_loads, seen.aborted_loads) == (1, 0), seen
    assert seen.load_requests == 1
    model = CompletionSettings().model  # the default completion model
    assert seen.progress_titles == (f"CodeHearth: loading {model} ({fake.url})…",), seen
    assert seen.messages == (), seen  # no timeout popups while it loads
