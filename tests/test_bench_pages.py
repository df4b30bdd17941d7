"""The page-priority benchmark runs end to end on a small backlog and reports every figure.

Speed is never asserted (figures live in docs/benchmarks.md). What is asserted is the
behaviour the figures are about: a page due now is in the first batch claimed, however
many check-ins were due before it.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest

from bench import pages as bench
from tests.conftest import PG_ADMIN_URL

pytestmark = [pytest.mark.postgres]


def test_a_page_is_claimed_ahead_of_a_backlog_of_check_ins() -> None:
    out = io.StringIO()
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with redirect_stdout(out):
        assert bench.main(["--due", "1000", "--future", "2000", "--repeat", "2",
                           "--admin-url", admin]) == 0  # fmt: skip
    report = out.getvalue()
    for figure in ("(a) ordinary candidate query", "(b) `claim_due`", "(c) the urgent-kinds",
                   "(c)/(b)", "batches ahead of it by due order alone"):
        assert figure in report
    assert "| the page in the first batch | yes |" in report
    # 2,000 patients with one check-in each already due: ten batches of 200 by due order.
    assert "| 2,000 check-ins due" in report
    assert "| batches ahead of it by due order alone | 10 |" in report
