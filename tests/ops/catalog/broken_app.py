import zz_missing_dependency  # noqa: F401 - what the test expects to fail
