"""One module per group of routes; :func:`api.app.create_app` includes their routers."""
