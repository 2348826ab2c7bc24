"""The analyst console (issue 5): operators who sign in with passkeys, roles checked on the server, and
server-rendered pages in Japanese and English.

Layout:

* :mod:`~mamori.console.roles` - the role -> scopes table (one place);
* :mod:`~mamori.console.store`, :mod:`~mamori.console.service` - operators, passkeys, enrolment codes,
  sessions (idle 15 min, absolute 8 h), the CSRF token bound to the session;
* :mod:`~mamori.console.security` - :class:`ConsoleGate`, which ``principal(request, scope)`` in
  :mod:`mamori.api.app` calls for requests without an API key (CSRF + same-origin for unsafe methods);
* :mod:`~mamori.console.web` - the shell: templates, the navigation registry, ``page``/``render``;
* ``pages*.py`` - the pages; ``templates/`` and ``static/`` (no third-party resources, strict CSP).

Adding a page (e.g. held items, in ``mamori/console/actions_pages.py``)::

    from mamori.console.text import add_words
    from mamori.console.web import ConsoleShell, NavItem, add_nav

    add_words({"nav_held": ("保留中の取引", "Held items"), "held_title": ("保留中の取引", "Held items")})
    add_nav(NavItem("held", "/console/held", "nav_held", scope="decisions:read", order=40))

    def register_held_pages(app: FastAPI, shell: ConsoleShell, get_actions: Callable[[], ActionsService]) -> None:
        @app.get("/console/held", include_in_schema=False)
        async def held(request: Request) -> Response:
            ctx = await shell.page(request, "decisions:read")   # login redirect / 403 page handled for you
            rows = await run_in_threadpool(get_actions().held, actor=ctx.actor)
            return shell.render(request, ctx, "held.html", title_key="held_title", rows=rows)

and one line in ``create_app`` after ``register_console(...)``:
``register_held_pages(app, app.state.console_shell, lambda: state["actions"])``.

The template starts with ``{% extends "base.html" %}`` and fills ``{% block content %}``; it gets ``t``
(the words in the operator's language), ``lang``, ``operator``, ``csrf_token``, ``can(scope)`` and the
filters ``|jst`` (microseconds UTC -> JST) and ``|yen``. Actions need no JS of your own: a
``<form data-api="/v1/actions" data-method="POST">`` (or ``<button data-api=... data-method=...>``) is
sent as JSON with the ``X-CSRF-Token`` header by ``console.js``, and the page reloads on success
(``data-type="int"|"datetime"|"nullable"`` on a field converts it; ``data-confirm="1"`` asks first). The
JSON endpoint itself checks the scope with ``principal(request, scope)``, so the operator's role applies.
"""
