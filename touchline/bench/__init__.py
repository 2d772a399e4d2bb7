"""`touchline bench`: the pipeline measured against its physical limits (see bench/README.md)."""
