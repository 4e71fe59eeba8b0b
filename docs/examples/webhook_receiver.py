"""A Stamped.io webhook receiver: verify the secret, parse, act once per event.

Run it with ``python webhook_receiver.py`` and point the Stamped dashboard's webhook at
``https://your-host/stamped/webhooks`` (behind TLS), with the same secret.
"""

import os

from aiohttp import web

from stampsync.stamped.webhooks import (
    ReviewPayload,
    SeenEvents,
    TierChangedPayload,
    WebhookError,
    parse_event,
)

SECRET = os.environ.get("STAMPED_WEBHOOK_SECRET", "change-me")
seen = SeenEvents()
handled: list[str] = []


async def receive(request: web.Request) -> web.Response:
    try:
        event = parse_event(request.headers, await request.read(), secret=SECRET)
    except WebhookError as exc:
        return web.Response(status=exc.status)  # 401: wrong secret; 400: bad body
    if not seen.add(event.key):
        return web.Response(status=204)  # a redelivery: already handled
    if isinstance(event.data, ReviewPayload):
        handled.append(f"review {event.data.review_rating} by {event.data.customer_email}")
    elif isinstance(event.data, TierChangedPayload):
        handled.append(f"{event.data.email}: {event.data.old_tier} -> {event.data.new_tier}")
    else:
        handled.append(f"{event.topic or 'unknown topic'}: stored for later")
    return web.Response(status=204)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/stamped/webhooks", receive)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=8080)
