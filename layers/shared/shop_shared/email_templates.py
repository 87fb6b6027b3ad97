"""The Jinja2 environment of every e-mail the shop sends (order e-mails, account e-mails)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


@cache
def environment(folder: Path) -> Environment:
    """One per folder and container. Autoescape everything except the `.txt` templates (safe by
    default: user text in HTML is escaped); a variable a template names but nobody passed is an
    error, not an empty string."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("txt",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
