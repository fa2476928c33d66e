"""A real terminal for the editor tests: a command runs interactively in a detached tmux
session of a fixed size on its own tmux server, is driven with ``send-keys``, and its screen
is read with ``capture-pane``: as text to assert on, and with its colours as a PNG (the SGR
escapes turned into an HTML page, rendered by headless chromium) to look at.

    with Terminal(["nvim", "calc.py"], cwd=workspace, env=env) as term:
        term.wait_for("calc.py")
        term.keys("6G", "A")
        term.type("return")
        term.screenshot(ARTIFACTS / "neovim-typed.png")
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

COLUMNS, LINES = 100, 30
DEFAULT_FG, DEFAULT_BG = "#d4d4d4", "#1e1e1e"
PALETTE = [  # SGR 30-37 and 90-97 (the 16 colours of 256-colour index 0-15)
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
]  # fmt: skip
FONT_PX, LINE_PX, PAD_PX = 16, 19, 8
FONT_ADVANCE_EM = 0.602  # DejaVu Sans Mono: each cell is 1233/2048 em wide


def screenshots_missing() -> str | None:
    """Why screenshots cannot be taken here, or None."""
    if shutil.which("tmux") is None:
        return "tmux not installed (bash tests/editors/install.sh)"
    if shutil.which("chromium") is None:
        return "chromium not installed (bash tests/editors/install.sh, without --no-vscode)"
    return None


class Terminal:
    """``command`` in a ``columns`` x ``lines`` tmux pane with ``env`` and ``cwd``, on a tmux
    server of its own (``tmux -L <unique socket>``). The pane stays on screen if the command
    exits; leaving the ``with`` block kills the tmux server and the command's process group."""

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        columns: int = COLUMNS,
        lines: int = LINES,
    ) -> None:
        self.command, self.cwd, self.columns, self.lines = command, cwd, columns, lines
        self.socket = f"codehearth-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # the tmux server and so the command get this environment; COLORFGBG says "light on
        # dark" (the default colours below) to programs that ask, as rxvt and Konsole do
        self.env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        self.env.update(COLORTERM="truecolor", COLORFGBG="15;0")
        self.pane_pid: int | None = None
        self.socket_path: Path | None = None

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def __enter__(self) -> Terminal:
        try:
            self.tmux(
                "-f", os.devnull, "start-server", ";",
                "set-option", "-g", "status", "off", ";",
                "set-option", "-g", "default-terminal", "tmux-256color", ";",
                "set-option", "-g", "remain-on-exit", "on", ";",
                "new-session", "-d", "-x", str(self.columns), "-y", str(self.lines),
                "-c", str(self.cwd), "--", *self.command,
            )  # fmt: skip
            pid, path = self.tmux("display-message", "-p", "#{pane_pid} #{socket_path}").split()
            self.pane_pid, self.socket_path = int(pid), Path(path)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.pane_pid is not None:
            try:  # what the command started in its process group, if it outlived the hangup
                os.killpg(self.pane_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)  # kill-server leaves it behind

    def keys(self, *names: str) -> None:
        """Press keys by tmux's names (``Escape``, ``Enter``, ``C-x``, ``M-x``, ``6G``: a
        name tmux does not know is typed as its characters), one key event after another."""
        for name in names:
            self.tmux("send-keys", name)
            # a lone Escape: past the ~50 ms in which an editor reads ESC + key as Alt+key
            time.sleep(0.2 if name == "Escape" else 0.05)

    def type(self, text: str) -> None:
        """Type ``text`` literally, character by character (as bytes: tmux would take a
        ``;`` argument for its command separator)."""
        for char in text:
            self.tmux("send-keys", "-H", *(f"{byte:02x}" for byte in char.encode()))
            time.sleep(0.02)

    def text(self) -> str:
        """The screen as plain text, one line per row."""
        return self.tmux("capture-pane", "-p")

    def wait_for(self, text: str, times: int = 1, timeout_s: float = 20) -> str:
        """Poll the screen until it shows ``text`` (``times`` times or more); return it, or
        fail showing what it shows."""
        deadline = time.monotonic() + timeout_s
        while True:
            screen = self.text()
            if screen.count(text) >= times:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not {times}x on screen after {timeout_s} s:\n{screen}"
                )
            time.sleep(0.1)

    def settled(self, quiet_s: float = 0.3, timeout_s: float = 5) -> str:
        """The screen once it stayed the same for ``quiet_s`` (the editor done redrawing)."""
        deadline = time.monotonic() + timeout_s
        screen = self.text()
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = self.text()
            if now == screen:
                break
            screen = now
        return screen

    def screenshot(self, png: Path) -> str:
        """Save the settled screen, colours included, as ``png``; return its plain text."""
        screen = self.settled()
        # -e: with SGR escapes; -N: trailing blanks kept, so backgrounds reach the edge
        ansi = self.tmux("capture-pane", "-p", "-e", "-N")
        x, y, shown = self.tmux(
            "display-message", "-p", "#{cursor_x} #{cursor_y} #{cursor_flag}"
        ).split()
        cursor = (int(x), int(y)) if shown == "1" else None
        render_png(html_page(ansi, png.stem, cursor), png, self.columns, self.lines)
        return screen


# ---------------------------------------------------------------------------
# SGR (the colour escapes capture-pane -e writes) to HTML


@dataclass(frozen=True)
class Style:
    fg: str | None = None  # a CSS colour; None: the terminal's default
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False

    def css(self) -> str:
        fg, bg = self.fg, self.bg
        if self.reverse:
            fg, bg = bg or DEFAULT_BG, fg or DEFAULT_FG
        rules = [
            f"color:{fg}" if fg else "",
            f"background:{bg}" if bg else "",
            "font-weight:bold" if self.bold else "",
            "font-style:italic" if self.italic else "",
            "text-decoration:underline" if self.underline else "",
        ]
        return ";".join(rule for rule in rules if rule)


def colour_256(index: int) -> str:
    """xterm's 256 colours: the 16 above, a 6x6x6 cube, then 24 greys."""
    if index < 16:
        return PALETTE[index]
    if index < 232:
        levels = [0, 95, 135, 175, 215, 255]
        index -= 16
        return rgb(levels[index // 36], levels[index // 6 % 6], levels[index % 6])
    grey = 8 + 10 * (index - 232)
    return rgb(grey, grey, grey)


def rgb(red: int, green: int, blue: int) -> str:
    return f"#{red:02x}{green:02x}{blue:02x}"


def extended_colour(fields: Iterator[str]) -> str | None:
    """The colour after 38/48/58: ``5;n`` (256 colours) or ``2;r;g;b`` (truecolor)."""
    kind = next(fields, "")
    if kind == "5":
        return colour_256(int(next(fields, "0") or 0) % 256)
    if kind == "2":
        red, green, blue = (int(next(fields, "0") or 0) % 256 for _ in range(3))
        return rgb(red, green, blue)
    return None


def colon_fields(sub: str) -> Iterator[str]:
    """The fields of ``38:5:n``, ``38:2:r:g:b`` or ``38:2::r:g:b`` (an empty colour space)."""
    fields = sub.split(":")
    if fields[0] == "2" and len(fields) == 5:
        del fields[1]
    return iter(fields)


def apply_sgr(style: Style, codes: str) -> Style:
    """``style`` after ``ESC [ codes m``; codes it does not draw (blink, dim, ...) are skipped."""
    params = iter(codes.split(";"))
    for param in params:
        code, _, sub = param.partition(":")  # "4:3": an underline style; "38:2::r:g:b"
        number = int(code) if code.isdigit() else 0
        if number == 0:
            style = Style()
        elif number == 1:
            style = replace(style, bold=True)
        elif number == 3:
            style = replace(style, italic=True)
        elif number == 4:
            style = replace(style, underline=sub != "0")
        elif number == 7:
            style = replace(style, reverse=True)
        elif number == 22:
            style = replace(style, bold=False)
        elif number == 23:
            style = replace(style, italic=False)
        elif number == 24:
            style = replace(style, underline=False)
        elif number == 27:
            style = replace(style, reverse=False)
        elif 30 <= number <= 37 or 90 <= number <= 97:
            style = replace(style, fg=PALETTE[number % 10 + (8 if number >= 90 else 0)])
        elif 40 <= number <= 47 or 100 <= number <= 107:
            style = replace(style, bg=PALETTE[number % 10 + (8 if number >= 100 else 0)])
        elif number in (38, 48, 58):
            colour = extended_colour(colon_fields(sub) if sub else params)
            if number == 38:
                style = replace(style, fg=colour)
            elif number == 48:
                style = replace(style, bg=colour)  # 58, the underline's colour: not drawn
        elif number == 39:
            style = replace(style, fg=None)
        elif number == 49:
            style = replace(style, bg=None)
    return style


ESCAPE = re.compile(  # SGR (its codes in group 1), any other CSI, OSC, other escapes
    r"\x1b\[([0-9;:]*)m|\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.?"
)


def ansi_to_html(ansi: str) -> str:
    """Text with SGR escapes as HTML: each run of styled text a ``<span style=...>``, the
    style carried across lines as a terminal does; other escapes dropped."""
    out: list[str] = []
    style = Style()

    def emit(text: str) -> None:
        if not text:
            return
        css = style.css()
        escaped = html.escape(text, quote=False)
        out.append(f'<span style="{css}">{escaped}</span>' if css else escaped)

    position = 0
    for match in ESCAPE.finditer(ansi):
        emit(ansi[position : match.start()])
        position = match.end()
        if match[1] is not None:
            style = apply_sgr(style, match[1])
    emit(ansi[position:])
    return "".join(out)


def html_page(ansi: str, title: str, cursor: tuple[int, int] | None = None) -> str:
    """A page showing the screen ``ansi`` in a monospace font, light on dark by default, with
    a block cursor inverting the cell at ``cursor`` (column, row; 0-based)."""
    screen = ansi_to_html(ansi.rstrip("\n"))
    block = ""
    if cursor is not None:
        left = f"calc({PAD_PX}px + {cursor[0]}ch)"
        top = PAD_PX + cursor[1] * LINE_PX
        block = (
            f'<div id="cursor" style="position:absolute;left:{left};top:{top}px;width:1ch;'
            f'height:{LINE_PX}px;background:#fff;mix-blend-mode:difference"></div>'
        )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
html, body {{ margin: 0; background: {DEFAULT_BG}; }}
body {{ font: {FONT_PX}px/{LINE_PX}px "DejaVu Sans Mono", monospace; }}
pre {{ margin: 0; padding: {PAD_PX}px; color: {DEFAULT_FG}; font: inherit; white-space: pre; }}
</style></head><body><pre>{screen}</pre>{block}</body></html>
"""


def render_png(page: str, png: Path, columns: int, lines: int) -> None:
    """Screenshot ``page`` with headless chromium into ``png``, sized to the terminal."""
    width = math.ceil(columns * FONT_ADVANCE_EM * FONT_PX) + 2 * PAD_PX
    height = lines * LINE_PX + 2 * PAD_PX
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="codehearth-shot-") as scratch:
        source = Path(scratch) / "screen.html"
        source.write_text(page, encoding="utf-8")
        done = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
             f"--user-data-dir={scratch}/profile", f"--window-size={width},{height}",
             f"--screenshot={png}", source.as_uri()],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    if done.returncode != 0 or not png.exists():
        raise AssertionError(f"chromium made no {png.name}:\n{done.stdout}{done.stderr}")
