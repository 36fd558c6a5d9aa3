"""Printing a rendered table to the user's terminal (shared by the table commands)."""

from __future__ import annotations

import sys


def print_rendered(text: str, fmt: str) -> None:
    """Rich Markdown on a terminal (tables drawn with box lines), the plain text when piped."""
    if fmt == "markdown" and sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        print(text, end="" if text.endswith("\n") else "\n")
