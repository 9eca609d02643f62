"""The small HTML pages behind links: no scripts, no external assets, every value escaped."""

from __future__ import annotations

from html import escape

from boomerang.feedback.domain.customer_links import Survey
from boomerang.shared.links import SignedLink

_CHANNEL_NAMES = {"email": "emails", "sms": "text messages"}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "button{font-size:1rem;padding:.6rem 1.2rem;margin:.2rem;cursor:pointer}"
    "label.score{display:inline-block;margin:.2rem}textarea{width:100%}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def unsubscribe_confirm(link: SignedLink, action: str) -> str:
    what = _CHANNEL_NAMES.get(link.channel, "messages")
    return _page(
        "Unsubscribe",
        f"<p>Stop receiving marketing {what} from us?</p>"
        f'<form method="post" action="{escape(action)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<input type="hidden" name="via" value="page">'
        "<button type=\"submit\">Unsubscribe</button></form>"
        "<p><small>Order confirmations and other messages about your orders still reach you.</small></p>",
    )


def unsubscribed(link: SignedLink) -> str:
    what = _CHANNEL_NAMES.get(link.channel, "messages")
    return _page("You are unsubscribed", f"<p>You will not receive marketing {what} from us any more.</p>")


def survey_form(survey: Survey, action: str) -> str:
    if survey.scores is not None:
        choices = "".join(
            f'<label class="score"><input type="radio" name="score" value="{n}" required> {n}</label>'
            for n in survey.scores
        )
        comment_label = "Anything you would like to tell us? (optional)"
    else:
        choices = "".join(
            f'<p><label><input type="radio" name="reason" value="{escape(value)}" required> '
            f"{escape(label)}</label></p>"
            for value, label in survey.options
        )
        comment_label = "Tell us more (optional)"
    return _page(
        "Your opinion",
        f"<p>{escape(survey.question)}</p>"
        f'<form method="post" action="{escape(action)}">{choices}'
        f'<p><label>{escape(comment_label)}<br><textarea name="comment" rows="3" maxlength="1000">'
        "</textarea></label></p><button type=\"submit\">Send</button></form>",
    )


def survey_thanks(*, already: bool) -> str:
    text = "We already have your answer. Thank you!" if already else "Thank you for your answer!"
    return _page("Thank you", f"<p>{text}</p>")
