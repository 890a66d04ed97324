"""raybot: an offline, cited troubleshooting assistant for Ray."""

__version__ = "0.1.0"
