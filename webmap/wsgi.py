"""The app for a WSGI server that imports it by name — ``webmap.wsgi:app`` — as granian's worker processes
do (``hromada serve``), or gunicorn's. Its settings come from the environment, as create_app reads them."""
from webmap import create_app

app = create_app()
