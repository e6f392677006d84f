"""A local Business Central API v2.0 and Entra ID, for tests, demos and benchmarks."""
