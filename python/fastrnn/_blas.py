"""Loads scipy-openblas32's shared library, the BLAS fastrnn's extension links against.

The extension finds it through its RPATH when both packages sit in one site-packages; loading it
here first makes the import work in any other layout too (editable installs, split prefixes).
"""

import ctypes
import os

import scipy_openblas32

_path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True))
ctypes.CDLL(_path, mode=ctypes.RTLD_GLOBAL)
