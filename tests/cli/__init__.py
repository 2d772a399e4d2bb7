"""CLI bad-input tests."""
