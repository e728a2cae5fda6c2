"""Colours and styles of every view, from JupyterLab's theme variables.

Each value is a CSS variable JupyterLab's light and dark themes both define, with the light theme's
colour as the fallback (the classic notebook, nbviewer and VS Code have no such variables). Text
takes the theme's text colour, never a fixed one, so nothing is light-on-light or dark-on-dark.
"""
from __future__ import annotations

TEXT = "var(--jp-content-font-color1, inherit)"
NOTE_COLOUR = "var(--jp-ui-font-color2, #616161)"
# The themes' darkest shade (color0): it reads on white and, in the dark theme, on its near-black.
SUCCESS = "var(--jp-success-color0, #2a7a2a)"
INFO = "var(--jp-info-color0, #1f5fa8)"
WARN = "var(--jp-warn-color0, #b07800)"
ERROR = "var(--jp-error-color1, #b52a2a)"
BORDER = "var(--jp-border-color2, #ddd)"

NOTE = f"font-size:85%;color:{NOTE_COLOUR}"
#: Preformatted text (output, errors, logs): lines wrap at spaces, and only a word too long for the line
#: is broken. JupyterLab's output area sets ``word-break:break-all`` on every <pre>, which cut
#: "Internal Server Error" and every other word at the edge mid-word.
PRE = "margin:0;padding:4px 6px;white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;"
#: A box of module stderr or of an error: the theme's error background, its text colour.
STDERR = (f"background:var(--jp-rendermime-error-background, #fdf2f2);border-left:3px solid {ERROR};"
          f"color:{TEXT};")
ERROR_BOX = STDERR + "font-weight:bold;"
#: A box of compiler warnings: the theme's warning colour at the edge.
WARNINGS = f"border-left:3px solid {WARN};color:{TEXT};"
STATUS_COLOURS = {2: SUCCESS, 3: INFO, 4: WARN, 5: ERROR}
#: JSON as JupyterLab's editor colours code, which both themes make readable.
JSON_KEY = "var(--jp-mirror-editor-property-color, #05a)"
JSON_STRING = "var(--jp-mirror-editor-string-color, #a11)"
JSON_NUMBER = "var(--jp-mirror-editor-number-color, #080)"
JSON_KEYWORD = "var(--jp-mirror-editor-keyword-color, #708)"


def status_colour(status: int) -> str:
    return STATUS_COLOURS.get(status // 100, TEXT)
