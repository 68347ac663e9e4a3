"""The app as gunicorn serves it in tests, with short display timings.

KIOSK_TEST_SETTINGS (JSON) overrides settings such as DISPLAY_PING_SECONDS,
so a test does not wait 15 s for a ping.
"""
import json
import os

from kiosk import create_app

app = create_app(json.loads(os.environ.get("KIOSK_TEST_SETTINGS", "{}")) or None)
