"""Dashboard panel latency over N generated activity rows (filled in below)."""
