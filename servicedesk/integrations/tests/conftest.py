"""Fixtures of the intake tests: a real IMAP server (dovecot.py)."""

from .dovecot import dovecot, imap_server

__all__ = ["dovecot", "imap_server"]
