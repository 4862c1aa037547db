"""pytest configuration shared by the tests: hypothesis profiles.

HYPOTHESIS_PROFILE selects how hard the property tests (test_properties*.py) search:
"default" (the default run, well under a minute in total), "thorough" (100x the examples, for a
nightly or a hunt: HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_properties.py).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
