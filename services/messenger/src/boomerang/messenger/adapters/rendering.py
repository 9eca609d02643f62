"""Jinja2 templates to message parts. HTML is autoescaped; text and SMS parts are not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from boomerang.messenger.domain.flows import Channel, Step
from boomerang.messenger.domain.messages import Rendered

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Two GSM-7 segments; a receipt SMS longer than that is a template bug, not a message.
SMS_MAX_CHARS = 306
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


class TemplateError(ValueError):
    pass


class TemplateRenderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
        )

    def render(self, step: Step, view: dict[str, Any]) -> Rendered:
        if step.channel is Channel.SMS:
            return Rendered(text=self._sms(step, view))
        subject = self._env.from_string(step.subject or "").render(view).strip()
        return Rendered(
            text=self._env.get_template(f"{step.template}.txt.j2").render(view).strip() + "\n",
            html=self._env.get_template(f"{step.template}.html.j2").render(view),
            subject=subject or None,
        )

    def _sms(self, step: Step, view: dict[str, Any]) -> str:
        rendered = self._env.get_template(f"{step.template}.txt.j2").render(view)
        # Locales put no-break spaces in amounts ("59,90\u00a0€"); one such character outside
        # GSM-7 makes the whole SMS UCS-2, which halves the characters per segment.
        text = " ".join(rendered.translate(_SPACES).split())
        if len(text) > SMS_MAX_CHARS:
            raise TemplateError(f"{step.template} renders {len(text)} characters, over {SMS_MAX_CHARS}")
        return text
