# touchline worker / simulator / ingest image (the production shape runs it from docker-compose)
FROM python:3.11.14-slim-bookworm
WORKDIR /app
COPY pyproject.toml setup.py README.md LICENSE ./
COPY touchline ./touchline
COPY schemas ./schemas
COPY streams ./streams
COPY sinks ./sinks
COPY dashboards ./dashboards
COPY examples ./examples
RUN pip install --no-cache-dir . && touchline --help > /dev/null
USER nobody
ENTRYPOINT ["touchline"]
CMD ["worker"]
