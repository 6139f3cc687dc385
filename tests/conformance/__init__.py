"""Platform conformance: every sandbox call of the test run, held to the
platforms' own published API descriptions (see README.md beside this file)."""
