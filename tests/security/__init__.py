"""Security tests: access control statements, secrets never logged, tenant isolation."""
