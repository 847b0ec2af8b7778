"""The compute-board conformance kit (a pytest plugin): ``pytest --computesat-board=NAME``."""
