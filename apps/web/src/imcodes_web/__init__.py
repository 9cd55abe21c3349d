"""The imcodes web client: static files the server hosts."""

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    return Path(str(resources.files(__name__) / "static"))
