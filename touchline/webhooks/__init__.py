"""The webhook ingest edge: vendor HTTP callbacks -> durable Kafka messages on raw.<source>.

Reading order: config.py (secrets and limits), signatures.py (each vendor's documented check),
envelope.py (what one accepted request becomes), server.py (the aiohttp app), cli.py.
"""
