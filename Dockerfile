# touchline worker / simulator / ingest image (the production shape runs it from docker-compose)
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY touchline ./touchline
COPY schemas ./schemas
COPY streams ./streams
COPY sinks ./sinks
COPY dashboards ./dashboards
COPY examples ./examples
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["touchline"]
CMD ["worker"]
