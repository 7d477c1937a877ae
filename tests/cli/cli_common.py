# SPDX-License-Identifier: MIT
"""What the tests/cli scripts share (each imports it from its own folder)."""
import atexit
import shutil
import tempfile


def scratch_dir(prefix):
    """A new directory for the script's files, removed when the script ends
    (sys.exit and an uncaught exception included): each run used to leave
    its mkdtemp() directory behind in /tmp."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path
