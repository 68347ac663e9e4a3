"""The real app for benchmarks/http_tier.py, with the per-identity ceilings lifted.

One kiosk, one tracked ticket and two staff accounts make all the load
there: the real 100/minute per identity (300/minute per tracking token)
would answer 429 after a second. The limits' code still runs on every
request; only their ceilings change.
"""
from kiosk import security

security.IDENTITY_LIMIT = "100000000/minute"

from wsgi import app  # noqa: E402

app.config["TRACKING_TOKEN_LIMIT"] = "100000000/minute"
