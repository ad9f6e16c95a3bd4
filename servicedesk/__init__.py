"""ServiceDesk: ITIL incident, problem and known-error management."""

__version__ = "0.1.0"
