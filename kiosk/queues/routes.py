from flask import Blueprint

bp = Blueprint("queues", __name__)
