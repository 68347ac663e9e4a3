from flask import Blueprint

# Payment routes live under /iot and share the device signature guard.
bp = Blueprint("payments", __name__, url_prefix="/iot")
