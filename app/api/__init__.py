"""HTTP layer: blueprints that parse, call a service, and serialise — nothing else."""

from __future__ import annotations

from flask_smorest import Blueprint as _SmorestBlueprint
from webargs.flaskparser import FlaskParser


class _Parser(FlaskParser):
    # Bad input is the client's error: 400 with every bad field named (webargs defaults to 422).
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(_SmorestBlueprint):
    ARGUMENTS_PARSER = _Parser()
