"""A bare pygls server answering every inline completion with a constant.

The baseline for ``bench/latency.py``: what pygls itself costs per request, so
CodeHearth's own overhead can be stated as a ratio measured in the same run.
"""

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare-pygls", "0")


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(
    ls: LanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    return types.InlineCompletionList(
        items=[types.InlineCompletionItem(insert_text="return a + b")]
    )


if __name__ == "__main__":
    server.start_io()
