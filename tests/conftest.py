"""Shared pytest configuration: a reproducible hypothesis profile for CI.

``ci`` (the default): deterministic examples (``derandomize``), no per-example deadline (shared
2-core CI machines have noisy timings) and a modest number of examples. Select another profile
with ``HYPOTHESIS_PROFILE=dev`` (random examples, more of them).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, max_examples=50, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
