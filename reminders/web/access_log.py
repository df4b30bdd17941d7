"""Access logs without query strings: a search for a patient's name must not be logged."""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG


class StripQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access records carry (client, method, path_with_query, version, status).
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def log_config() -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["strip_query"] = {"()": StripQuery}
    config["handlers"]["access"]["filters"] = ["strip_query"]
    return config
