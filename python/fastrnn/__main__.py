"""`python -m fastrnn` prints the build and machine report."""

import os
import sys

from fastrnn import show_config

try:
    show_config()
    sys.stdout.flush()
except BrokenPipeError:  # the reader left (`python -m fastrnn | head -1`): no traceback
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
