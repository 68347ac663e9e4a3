from flask import Blueprint

iot_bp = Blueprint("iot", __name__, url_prefix="/iot")
api_bp = Blueprint("devices_api", __name__, url_prefix="/api")

blueprints = [iot_bp, api_bp]
