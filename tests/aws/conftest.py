import pytest

from harness import Daemon


@pytest.fixture
def daemon():
    d = Daemon()
    yield d
    d.close()
