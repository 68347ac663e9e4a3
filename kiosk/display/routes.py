from flask import Blueprint

bp = Blueprint("display", __name__)
