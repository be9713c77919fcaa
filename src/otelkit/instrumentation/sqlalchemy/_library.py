"""SQLAlchemy is an optional extra (``otelkit[sqlalchemy]``): imported when first used, and
only 2.x, whose dialect ``do_execute*`` events and pool API the instrumentation relies on.
"""

from __future__ import annotations

import importlib
from typing import Any

from otelkit._errors import ConfigError

__all__ = ["available", "sqlalchemy"]


def sqlalchemy() -> Any:
    """The sqlalchemy package (2.x), or a ConfigError naming the extra to install."""
    try:
        package = importlib.import_module("sqlalchemy")
    except ImportError:
        raise ConfigError(
            "instrument_sqlalchemy() needs SQLAlchemy: pip install 'otelkit[sqlalchemy]'"
        ) from None
    major = int(str(package.__version__).split(".", 1)[0])
    if major < 2:
        raise ConfigError(
            f"instrument_sqlalchemy() needs SQLAlchemy 2.0 or later, found "
            f"{package.__version__}: pip install 'otelkit[sqlalchemy]'"
        )
    return package


def available(*, required: bool = False) -> bool:
    """Whether SQLAlchemy 2 is installed; with ``required`` a ConfigError names the extra."""
    try:
        sqlalchemy()
    except ConfigError:
        if required:
            raise
        return False
    return True
