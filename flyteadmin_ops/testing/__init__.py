"""For users' own test suites: the pytest plugin with the `flyte_admin` and `admin_client` fixtures."""
