"""Every message of the product has a Russian translation, and the .mo is current.

Messages are extracted afresh from the whole ``servicedesk`` package (what
``makemessages`` would write), so a new string anywhere fails here until it
is translated; ``msgcmp`` treats fuzzy and empty translations as missing.
"""

from __future__ import annotations

import gettext
import os
import subprocess
from pathlib import Path

from django.core.management import call_command
from django.test import override_settings

import servicedesk

PACKAGE = Path(servicedesk.__file__).parent
PO = PACKAGE / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def extract(tmp_path: Path) -> Path:
    """A fresh django.po of every message in the package (untranslated)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "servicedesk").symlink_to(PACKAGE)
    locale = work / "locale"
    locale.mkdir()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with override_settings(LOCALE_PATHS=[str(locale)]):
            call_command(
                "makemessages", locale=["ru"], symlinks=True, verbosity=0,
                ignore_patterns=["servicedesk/locale/*", "*/tests/*", "servicedesk/testing/*"],
            )  # fmt: skip
    finally:
        os.chdir(cwd)
    fresh = locale / "ru" / "LC_MESSAGES" / "django.po"
    assert fresh.exists()
    return fresh


def test_every_message_has_a_russian_translation(tmp_path: Path) -> None:
    fresh = extract(tmp_path)
    assert "Workspace" in fresh.read_text()  # the extraction saw the web app
    result = subprocess.run(
        ["msgcmp", str(PO), str(fresh)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, "untranslated or fuzzy messages:\n" + result.stderr


def test_catalogue_is_valid_and_has_no_fuzzy_entries() -> None:
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr and "untranslated" not in result.stderr, result.stderr


def test_compiled_catalogue_matches_the_po(tmp_path: Path) -> None:
    fresh_mo = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh_mo), str(PO)], check=True)
    with MO.open("rb") as committed, fresh_mo.open("rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == (  # type: ignore[attr-defined]
            gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
        ), "run compilemessages and commit django.mo"
