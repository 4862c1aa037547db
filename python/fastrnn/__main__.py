"""`python -m fastrnn` prints the build and machine report."""

from fastrnn import show_config

show_config()
