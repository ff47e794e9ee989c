"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

import gc

from app import create_app

app = create_app()

# The objects made at start-up (about 120,000: Flask, schemas, the price catalog) live as long as
# the process: keep them out of the garbage collector's walks, which a 10,000-call batch would
# otherwise trigger again and again (about 5% of its time). gunicorn imports this in each worker.
gc.freeze()
