import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crisp_env import Suite  # noqa: E402


@pytest.fixture
def suite():
    s = Suite()
    try:
        s.start()
        yield s
    finally:
        s.cleanup()


@pytest.fixture(scope="module")
def shared_suite():
    """One suite for read-only tests of a module."""
    s = Suite()
    try:
        s.start()
        yield s
    finally:
        s.cleanup()
