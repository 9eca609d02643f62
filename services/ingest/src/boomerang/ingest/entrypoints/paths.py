"""Path parameters that take any text: `{customer_id:text}`.

Starlette's `str` stops at a slash and its `path` at a newline, so an id holding either would
miss its route and get a bare 404; with this one the route answers, in the error shape.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

TEXT = "text"


class AnyText(Convertor[str]):
    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor(TEXT, AnyText())
