"""``tickets``: a seeded stream of customer-support messages in four classes, for the text benchmarks.

Each message says one of a few dozen things a customer asks about
``billing``, ``delivery``, ``technical`` trouble or their ``account``, each
worded many ways (synonym slots, so most words of a message are rarely seen
with a label), wrapped in greetings, order numbers and product names shared
by every class. 10 % of messages raise a second topic too (the label is the
first), and 1 % of labels are flipped at random: the best accuracy is about
99 %. One categorical feature, ``channel`` (email, chat, phone, app), leans
weakly towards some classes. Generated with :class:`random.Random` from the
seed: the same seed gives the same stream on any machine.

>>> rows = list(tickets(3, seed=1))
>>> [sorted(x) for x, _ in rows][0], [y for _, y in rows]
(['channel', 'text'], ['delivery', 'billing', 'billing'])
>>> rows[0][0]["text"][:40]
'Hi, I want to return the item but the sh'
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

# Each intent: a template whose {slots} draw from _SLOTS.
_INTENTS: dict[str, list[str]] = {
    "billing": [
        "I was {charged} twice for the same {purchase}",
        "there is a {charge} on my {card} that I do not recognise",
        "please {refund} the {amount} you took last week",
        "my {invoice} shows the wrong {amount}",
        "why did the price go up on my {plan} {invoice}",
        "the {discount} code was not applied at {checkout}",
        "I cancelled but you still {charged} my {card}",
        "can I {pay} by bank transfer instead of {card}",
        "I need a VAT {invoice} for my {purchase}",
        "you {charged} me in the wrong currency",
    ],
    "delivery": [
        "my {parcel} is {late}",
        "the {courier} says {delivered} but nothing came",
        "the {parcel} arrived {damaged}",
        "can I change the {address} for my {parcel}",
        "{tracking} has not updated in days",
        "I received the wrong {item} in my {parcel}",
        "part of my {purchase} is missing from the {parcel}",
        "how long does {shipping} take to Norway",
        "the {courier} left my {parcel} with a neighbour I do not know",
        "I want to return the {item} but the {label} will not print",
    ],
    "technical": [
        "the app {crashes} when I {open} it",
        "I get an {error} when I {upload} a photo",
        "the page {freezes} at {checkout}",
        "notifications {stopped} working after the {update}",
        "the {screen} stays blank on my tablet",
        "sync {stopped} working between my devices",
        "the search gives an {error} for every query",
        "the {update} {broke} the dark mode",
        "videos {freeze} halfway on my laptop",
        "the widget shows an {error} code 500",
    ],
    "account": [
        "I {forgot} my {password}",
        "I cannot {login} to my {profile}",
        "please {delete} my {profile} and my data",
        "how do I change the email on my {profile}",
        "my {profile} was {locked} after too many attempts",
        "the {verification} code never arrives",
        "someone else {login} to my {profile}",
        "I want to merge two {profile}s",
        "how do I turn on two-factor {verification}",
        "I want to change my username",
    ],
}

_SLOTS: dict[str, list[str]] = {
    "charged": ["charged", "billed", "debited", "invoiced", "taken money from"],
    "charge": ["charge", "payment", "transaction", "debit", "deduction"],
    "purchase": ["order", "purchase", "subscription", "booking", "item I bought"],
    "card": ["card", "credit card", "bank account", "PayPal", "debit card"],
    "refund": ["refund", "return", "reimburse", "pay back", "give back"],
    "amount": ["amount", "money", "sum", "fee", "payment"],
    "invoice": ["invoice", "bill", "receipt", "statement"],
    "plan": ["monthly", "yearly", "premium", "family"],
    "discount": ["discount", "promo", "coupon", "voucher"],
    "checkout": ["checkout", "payment step", "the till", "the last step"],
    "pay": ["pay", "settle the bill", "make the payment"],
    "parcel": ["parcel", "package", "delivery", "shipment", "order"],
    "late": ["late", "three days late", "still not here", "overdue", "delayed", "lost"],
    "courier": ["courier", "driver", "postman", "delivery company", "carrier"],
    "delivered": ["it was delivered", "it was dropped off", "it arrived", "the delivery was completed"],
    "damaged": ["damaged", "broken", "crushed", "torn open", "wet"],
    "address": ["address", "delivery address", "shipping address", "destination"],
    "tracking": ["tracking", "the tracking number", "the shipment status", "the tracker"],
    "item": ["item", "product", "size", "colour", "model"],
    "shipping": ["shipping", "delivery", "postage", "transit"],
    "label": ["return label", "shipping label", "label"],
    "crashes": ["crashes", "closes", "shuts down", "quits", "dies"],
    "open": ["open", "start", "launch", "use"],
    "error": ["error", "error message", "fault", "failure", "bug"],
    "upload": ["upload", "attach", "send", "add"],
    "freezes": ["freezes", "hangs", "gets stuck", "spins forever", "does not load"],
    "stopped": ["stopped", "ceased", "quit", "are not"],
    "update": ["update", "upgrade", "new version", "latest release"],
    "screen": ["screen", "display", "window", "page"],
    "broke": ["broke", "ruined", "messed up", "disabled"],
    "freeze": ["freeze", "stall", "stop", "buffer"],
    "forgot": ["forgot", "lost", "cannot remember", "misplaced"],
    "password": ["password", "PIN", "passcode", "login details"],
    "login": ["log in", "sign in", "get into", "access"],
    "profile": ["account", "profile", "user account", "membership"],
    "delete": ["delete", "close", "remove", "cancel"],
    "locked": ["locked", "blocked", "suspended", "frozen"],
    "verification": ["verification", "authentication", "security", "confirmation"],
}

_OPENERS = ["", "Hi, ", "Hello, ", "Good morning. ", "Hey there, ", "Dear support, ", "Help! "]
_CLOSERS = ["", " Thanks.", " Thank you!", " Please help.", " Regards, Sam.", " This is urgent.", " Cheers."]
_PRODUCTS = ["the blue jacket", "my phone case", "the coffee machine", "two books", "the garden chair", "a gift card"]
_CHANNELS = ["email", "chat", "phone", "app"]
_CHANNEL_LEAN = {"billing": "email", "delivery": "chat", "technical": "app", "account": "phone"}
LABELS: tuple[str, ...] = tuple(_INTENTS)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(**{slot: rng.choice(words) for slot, words in _SLOTS.items() if "{" + slot + "}" in template})


def _message(label: str, rng: random.Random) -> str:
    parts = [_fill(rng.choice(_INTENTS[label]), rng)]
    if rng.random() < 0.3:
        parts.append(f"Order {rng.randint(10_000, 99_999)}")
    if rng.random() < 0.3:
        parts.append(f"It is about {rng.choice(_PRODUCTS)}")
    if rng.random() < 0.1:  # a second topic
        parts.append("also " + _fill(rng.choice(_INTENTS[rng.choice([c for c in LABELS if c != label])]), rng))
    text = ". ".join(parts) + "."
    return rng.choice(_OPENERS) + text[0].upper() + text[1:] + rng.choice(_CLOSERS)


def tickets(size: int, seed: int = 0) -> Iterator[tuple[dict[str, Any], str]]:
    """``size`` (features, label) pairs: features ``text`` and ``channel``."""
    rng = random.Random(seed)
    for _ in range(size):
        label = rng.choice(LABELS)
        text = _message(label, rng)
        channel = _CHANNEL_LEAN[label] if rng.random() < 0.4 else rng.choice(_CHANNELS)
        if rng.random() < 0.01:  # label noise
            label = rng.choice([c for c in LABELS if c != label])
        yield {"text": text, "channel": channel}, label
