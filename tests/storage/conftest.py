"""Storage tests: the shared contract suite lives in ``_store_contract.py``."""

import pytest

# The suite's asserts live outside a test_*.py module; have pytest rewrite them all the same,
# so that a failing contract check shows the values it compared.
pytest.register_assert_rewrite("_store_contract")
