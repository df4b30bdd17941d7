"""The on-call tests reuse the web cast (Dana, Cora and Carl at Riverside; Bob at
Lakeside) and its in-process client."""

from tests.web.conftest import *  # noqa: F403
from tests.web.conftest import build_cast, cast, client, clock, csrf_of, fast_hashes, sign_in  # noqa: F401
