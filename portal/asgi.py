"""The ASGI application: the data plane on the event loop, the control plane as Django serves it.

`/gw/...`, `/mcp` and `/healthz` go to the streaming handler (async views only, no middleware,
no thread on the warm path); everything else (portal, admin, management API, OAuth endpoints)
goes to Django's own ASGI handler with the full middleware stack.
"""

import gc
import os
from importlib import import_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402

from apis.gateway.loop_pools import close_loop_pools  # noqa: E402
from core import redis_clients, shared  # noqa: E402
from core.checks import weakest  # noqa: E402
from core.redis_policy import eviction_problem  # noqa: E402
from core.streaming import StreamingHandler  # noqa: E402
from portal.planes import is_data_plane  # noqa: E402

# Import every URL configuration now, not while the first calls wait on it.
import_module(settings.ROOT_URLCONF)
data_plane = StreamingHandler()
control_plane = ASGIHandler()
# What importing built (modules, settings, URL patterns: some 160,000 objects) lives as long as
# the process. Left to the collector, every full collection walks it all, 0.15-0.2 s on this
# machine with every call in flight stalled; frozen, a collection walks what calls made.
gc.collect()
gc.freeze()


async def application(scope, receive, send):
    """Route each connection to its plane; the lifespan closes the loop's client pools."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif is_data_plane(scope["path"]):
        await data_plane(scope, receive, send)
    else:
        await control_plane(scope, receive, send)


async def lifespan(receive, send) -> None:
    """Refuse to start on a Redis that may evict the gateway's state; close pools at shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            problem = await redis_eviction_problem()
            if problem:
                await send({"type": "lifespan.startup.failed", "message": problem})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_loop_pools()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def redis_eviction_problem() -> str:
    """Why the shared Redis could evict revocations and counters ("" when it cannot, or none)."""
    if not settings.REDIS_URL:
        return ""
    client = shared.client_at(settings.REDIS_URL)
    try:
        info = weakest(await redis_clients.ainfos(client))
    except RedisError:
        # A Redis that is down now is the gateway's 503 to answer, not a reason not to start.
        return ""
    return eviction_problem(info)
