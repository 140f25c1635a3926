"""The pages: one module per section, each exporting `routes` (see callrouter/web/app.py)."""
