"""The 1:1 page of the local control panel: `GET /one-on-one[?tenant=T&rep=R]`.

It opens the 1:1 rep dashboard (dashboards/rep_view.py) on the rep asked for, else on the rep
with the most cadence work (the rep variable's first option), so a manager lands on someone
there is something to talk over with.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from touchline.dashboards import rep_view

PATH = "/one-on-one"


async def _one_on_one(request: web.Request) -> web.Response:
    query = {"d": rep_view.UID}
    for name in ("tenant", "rep"):
        if request.query.get(name):
            query[name] = request.query[name]
    raise web.HTTPFound("/?" + urlencode(query))


def add_routes(app: web.Application) -> None:
    """Register the 1:1 page on the local panel's application."""
    app.router.add_get(PATH, _one_on_one)
