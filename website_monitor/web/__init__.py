"""`wm serve`: a live dashboard, a JSON API and Prometheus metrics over the store.

`app` assembles the Starlette application from the sections every kind of data
brings (`section`, found through the registry), `openapi` describes it from
their types, `server` binds the socket and runs uvicorn, `static/` is the page
with its vendored charting library. Nothing here is imported by commands other
than `wm serve`.
"""
