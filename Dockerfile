FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip install --no-cache-dir .
ENTRYPOINT []
CMD ["labelstream", "--help"]
