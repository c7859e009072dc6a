"""The app as a bench serves it (_common.served_apps): create_app with the bench's database and settings."""
import json
import os

from webmap import create_app

app = create_app({"DATABASE_URL": os.environ["BENCH_APP_DATABASE_URL"], **json.loads(os.environ["BENCH_APP_CONFIG"])})
