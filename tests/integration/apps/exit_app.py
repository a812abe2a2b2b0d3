"""An app whose import ends the process with exit code 1 (as a crashing extension or a
sanitizer runtime would): not greenc's "failed to boot" code, and no traceback."""
import os

os._exit(1)
