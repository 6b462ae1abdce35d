import pytest

from tests.reliability import figures


@pytest.fixture(scope="session", autouse=True)
def _write_figures():
    yield
    figures.write()
