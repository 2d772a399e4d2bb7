"""The org: `touchline org validate|load|list` (docs/org.md)."""
