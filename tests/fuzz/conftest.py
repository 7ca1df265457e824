"""The fuzz tests' totals (operations, cases, status codes) are shown at the end of the run."""

import pytest

from tests.calls.conftest import callbacks, gateway  # noqa: F401  (fixtures the fuzz uses)

TOTALS = pytest.StashKey[list[str]]()


@pytest.fixture
def report_totals(request):
    """Call with a line of totals; it is printed in the run's summary."""

    def add(line: str) -> None:
        request.config.stash.setdefault(TOTALS, []).append(line)

    return add


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = config.stash.get(TOTALS, [])
    if lines:
        terminalreporter.section("fuzz totals")
        for line in lines:
            terminalreporter.write_line(line)
