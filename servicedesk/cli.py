"""The ``servicedesk`` console command: Django's management commands, pre-configured."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["servicedesk", *args])


if __name__ == "__main__":  # pragma: no cover
    main()
