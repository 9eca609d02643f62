"""Jinja2 templates to message parts, per locale. HTML is autoescaped and its CSS inlined.

Layout: `templates/<locale>/<step template>.<part>.j2`, for example
`templates/de/win_back/we_miss_you/email.html.j2`, with the parts `html` and `txt` for email
(and optionally `subject`: the flow's own subject is used where a locale has none, which is
how English works), `txt` for SMS. Each locale has its own `layout/` that its templates
extend; `common/` holds macros all locales share, and `email.css` is the stylesheet inlined
into every HTML part (css-inline), so templates write classes, not style attributes.

`render` leaves the stylesheet out: `Rendered.html` is the HTML as the templates wrote it, and
`StyleInliner` adds the styles where the message leaves, in the email adapter as it builds the
request body (only emails that are sent pay for it). The preview inlines it itself, so it shows
what is sent.

`render(step, view, locales)` takes the first locale of `locales` (see `domain.locales`) that
has the message, so one missing translation falls back rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import css_inline
from babel.lists import format_list
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context, select_autoescape
from jinja2.runtime import Context

from boomerang.messenger.domain.content import tag_link
from boomerang.messenger.domain.flows import Channel, Step
from boomerang.messenger.domain.locales import FALLBACK
from boomerang.messenger.domain.messages import Rendered

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STYLESHEET = "email.css"
# Two GSM-7 segments; an SMS longer than that is a template bug, not a message.
SMS_MAX_CHARS = 306
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})
_BLANK_LINES = re.compile(r"\n[ \t]*(\n[ \t]*)+\n")
_NOT_LOCALES = {"common"}


class TemplateError(ValueError):
    pass


class StyleInliner:
    """The stylesheet's rules as style attributes (mail clients drop <style> blocks); @media
    rules cannot be inlined and stay in a <style>. Pickles as its stylesheet's text, so the
    inlining can run in the SDK process should the event loop become the narrower part again
    (services/messenger/README.md, "The child only posts")."""

    def __init__(self, stylesheet: str | None = None) -> None:
        self._stylesheet = stylesheet
        self._inliner: css_inline.CSSInliner | None = None

    @classmethod
    def of(cls, directory: Path = TEMPLATES) -> StyleInliner:
        path = directory / STYLESHEET
        return cls(path.read_text(encoding="utf-8") if path.exists() else None)

    def __getstate__(self) -> dict[str, Any]:
        return {"_stylesheet": self._stylesheet, "_inliner": None}

    def __call__(self, html: str) -> str:
        if self._inliner is None:
            self._inliner = css_inline.CSSInliner(
                load_remote_stylesheets=False, extra_css=self._stylesheet, keep_at_rules=True
            )
        return self._inliner.inline(html)


class _ViewEnvironment(Environment):
    """Views are plain dicts: `order.total` looks the key up first. Jinja's own order (the
    attribute, then the key) raised and caught an AttributeError for every such lookup, which
    was a quarter of composing a receipt."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class TemplateRenderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = _ViewEnvironment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # The templates ship with the package: compiled once, never stat()ed again per message.
            auto_reload=False,
        )
        self._env.filters["utm"] = _utm
        self._env.filters["words"] = _words
        self._names = frozenset(self._env.list_templates(extensions=["j2"]))
        self._subjects: dict[str, Template] = {}  # compiling a subject costs more than rendering it

    @property
    def locales(self) -> list[str]:
        return sorted({name.split("/", 1)[0] for name in self._names} - _NOT_LOCALES)

    def locale_for(self, step: Step, locales: Sequence[str]) -> str | None:
        """The first of `locales` with this step's templates."""
        return next((loc for loc in locales if self._has(loc, step.template, "txt")), None)

    def render(self, step: Step, view: dict[str, Any], locales: Sequence[str] = (FALLBACK,)) -> Rendered:
        locale = self.locale_for(step, locales)
        if locale is None:
            raise TemplateError(f"no template {step.template}.txt.j2 in {', '.join(locales)}")
        view = {**view, "lang": locale.replace("_", "-")}
        if step.channel is Channel.SMS:
            return Rendered(text=self._sms(step, locale, view), locale=locale)
        return Rendered(
            text=_tidy(self._part(locale, step.template, "txt", view)),
            html=self._part(locale, step.template, "html", view),  # styles come where it is sent
            subject=self._subject(step, locale, view),
            locale=locale,
        )

    def _has(self, locale: str, template: str, part: str) -> bool:
        return f"{locale}/{template}.{part}.j2" in self._names

    def _part(self, locale: str, template: str, part: str, view: dict[str, Any]) -> str:
        return self._env.get_template(f"{locale}/{template}.{part}.j2").render(view)

    def _subject(self, step: Step, locale: str, view: dict[str, Any]) -> str | None:
        if self._has(locale, step.template, "subject"):
            subject = self._part(locale, step.template, "subject", view)
        else:
            source = step.subject or ""
            if source not in self._subjects:
                self._subjects[source] = self._env.from_string(source)
            subject = self._subjects[source].render(view)
        return " ".join(subject.split()) or None  # a header: one line

    def _sms(self, step: Step, locale: str, view: dict[str, Any]) -> str:
        rendered = self._part(locale, step.template, "txt", view)
        # Locales put no-break spaces in amounts ("59,90\u00a0€"); one such character outside
        # GSM-7 makes the whole SMS UCS-2, which halves the characters per segment.
        text = " ".join(rendered.translate(_SPACES).split())
        if len(text) > SMS_MAX_CHARS:
            raise TemplateError(f"{step.template} renders {len(text)} characters, over {SMS_MAX_CHARS}")
        return text


@pass_context
def _utm(context: Context, url: str | None) -> str | None:
    """`{{ product.url | utm }}`: the link tagged with the message's channel, flow and step."""
    message = context.get("message")
    if not url or not message:
        return url
    return tag_link(url, message["channel"], message["flow"], message["step"])


@pass_context
def _words(context: Context, items: Sequence[str]) -> str:
    """`{{ categories|words }}`: "coffee, tea and cocoa" / "Kaffee, Tee und Kakao"."""
    items = [str(item) for item in items]
    if not items:
        return ""
    try:
        return format_list(items, locale=str(context.get("lang", FALLBACK)).replace("-", "_"))
    except ValueError:
        return ", ".join(items)


def _tidy(text: str) -> str:
    # Conditional blocks leave runs of blank lines behind; a text part reads better without.
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return _BLANK_LINES.sub("\n\n", lines) + "\n"
