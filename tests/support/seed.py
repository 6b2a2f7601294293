"""The one seed of a test session's randomness: printed in the header and with every failure.

``PYENVBOOT_TEST_SEED=N`` replays a session; each test draws from its own generator, seeded
with the session seed and its name, so a test replays the same way run alone or with others.
"""

from __future__ import annotations

import os
import random
import secrets

SEED = int(os.environ.get("PYENVBOOT_TEST_SEED") or secrets.randbelow(1_000_000))


def replay() -> str:
    return "PYENVBOOT_TEST_SEED=%d" % SEED


def generator(name: str) -> random.Random:
    """A generator of its own for ``name`` (a test's node id), reproducible from the session seed."""
    return random.Random("%d:%s" % (SEED, name))
