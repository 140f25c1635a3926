"""The web application (issue #16): server-rendered pages for managers, heads of sales and the
owner. `create_app(settings, database)` in `app.py` builds it; docs/web.md tells how to run it."""
