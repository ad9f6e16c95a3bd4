"""Texts of shipped data rows, marked for translation.

The severity bands of SPEC Table 4 are rows (administrators may rename
them); the pages show a band's name through ``{% translate %}``, so the
shipped names read in the user's language and renamed ones as written.
"""

from django.utils.translation import gettext_noop

SEVERITY_BAND_NAMES = [
    gettext_noop("More than 50 users cannot work"),
    gettext_noop("10 to 49 users cannot work"),
    gettext_noop("1 to 9 users cannot work"),
    gettext_noop("No user blocked yet"),
]
