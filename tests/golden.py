"""Golden files: rendered output compared byte for byte with a reviewed file.

NBF_UPDATE_GOLDEN=1 pytest ... rewrites the golden files after an intended change; review the diff.
"""

import os

UPDATE = os.environ.get("NBF_UPDATE_GOLDEN") == "1"


def assert_golden(path, text):
    if UPDATE:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(path, encoding="utf-8") as handle:
        assert text == handle.read(), "output differs from %s (NBF_UPDATE_GOLDEN=1 to accept)" % path
