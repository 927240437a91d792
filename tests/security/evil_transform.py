"""A module whose import has an effect: the attack suite checks the job never imports it."""

import os
from pathlib import Path

_MARKER = os.environ.get("HEADWATER_TEST_IMPORT_MARKER")
if _MARKER:
    Path(_MARKER).write_text("imported")


def shaped(frame: object) -> object:
    return frame
