"""Screenshots for docs/screenshots, taken by the browser tests as they run.

Only when ``SERVICEDESK_SCREENSHOTS`` names a directory
(``SERVICEDESK_SCREENSHOTS=docs/screenshots pytest tests/e2e``), so that an
ordinary test run never rewrites files of the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def shoot(page: Any, name: str, **options: Any) -> None:
    directory = os.environ.get("SERVICEDESK_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / name), caret="initial", **options)
