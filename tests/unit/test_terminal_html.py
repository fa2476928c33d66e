"""The screenshots' ANSI to HTML converter (``tests/editors/terminal.py``): the SGR escapes
tmux's ``capture-pane -e`` writes become styled spans."""

from __future__ import annotations

import pytest
from tests.editors.terminal import ansi_to_html, html_page


@pytest.mark.parametrize(
    ("ansi", "expected"),
    [
        pytest.param("a < b & c", "a &lt; b &amp; c", id="plain-text-escaped"),
        pytest.param(
            "\x1b[31mred\x1b[0m ok", '<span style="color:#cd3131">red</span> ok', id="16-fg"
        ),
        pytest.param("\x1b[102mx", '<span style="background:#23d18b">x</span>', id="bright-bg"),
        pytest.param("\x1b[38;5;9mx", '<span style="color:#f14c4c">x</span>', id="256-base"),
        pytest.param("\x1b[38;5;196mx", '<span style="color:#ff0000">x</span>', id="256-cube"),
        pytest.param("\x1b[48;5;232mx", '<span style="background:#080808">x</span>', id="256-grey"),
        pytest.param(
            "\x1b[38;2;224;226;234;48;2;20;22;27mx",
            '<span style="color:#e0e2ea;background:#14161b">x</span>',
            id="truecolor-fg-and-bg",
        ),
        pytest.param(
            "\x1b[38:2::1:2:3mx", '<span style="color:#010203">x</span>', id="truecolor-colons"
        ),
        pytest.param(
            "\x1b[1mdef\x1b[22m x", '<span style="font-weight:bold">def</span> x', id="bold"
        ),
        pytest.param(
            "\x1b[7mx",
            '<span style="color:#1e1e1e;background:#d4d4d4">x</span>',
            id="reverse-of-the-defaults",
        ),
        pytest.param(
            "\x1b[31;7mx\x1b[27my",
            '<span style="color:#1e1e1e;background:#cd3131">x</span>'
            '<span style="color:#cd3131">y</span>',
            id="reverse-of-a-colour",
        ),
        pytest.param(
            "\x1b[31;41ma\x1b[39mb\x1b[49mc",
            '<span style="color:#cd3131;background:#cd3131">a</span>'
            '<span style="background:#cd3131">b</span>c',
            id="back-to-default-colours",
        ),
        pytest.param(
            "\x1b[32mone\ntwo\x1b[m",
            '<span style="color:#0dbc79">one\ntwo</span>',
            id="style-carried-across-lines",
        ),
        pytest.param(
            "\x1b[4:3;58;2;1;2;3;31mx",
            '<span style="color:#cd3131;text-decoration:underline">x</span>',
            id="curly-underline-and-its-colour",
        ),
        pytest.param(
            "\x1b[3mx\x1b[23;4my\x1b[24mz",
            '<span style="font-style:italic">x</span>'
            '<span style="text-decoration:underline">y</span>z',
            id="italic-and-underline",
        ),
        pytest.param("\x1b[?25lx\x1b]0;title\x07y\x1b=z", "xyz", id="other-escapes-dropped"),
    ],
)
def test_ansi_to_html(ansi: str, expected: str) -> None:
    assert ansi_to_html(ansi) == expected


def test_html_page_draws_the_screen_and_the_cursor_in_a_monospace_font() -> None:
    page = html_page("\x1b[31mred\n", "neovim-chat", cursor=(3, 2))
    assert '<pre><span style="color:#cd3131">red</span></pre>' in page
    assert '"DejaVu Sans Mono", monospace' in page
    assert "<title>neovim-chat</title>" in page
    assert "left:calc(8px + 3ch);top:46px" in page  # 8px padding, 19px lines


def test_html_page_without_a_cursor_has_none() -> None:
    assert 'id="cursor"' not in html_page("text", "emacs-completion")
