# The sample app for the docker provider of `inv dev.up` (build context: the installed `ops` package).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv
RUN pip install "starlette>=0.37" "uvicorn>=0.29" "psycopg[binary]>=3.2" "psycopg-pool>=3.2"
COPY __init__.py ./ops/__init__.py
COPY sample_app/ ./ops/sample_app/

RUN useradd --system --no-create-home web
USER web
EXPOSE 3000
HEALTHCHECK --interval=2s --timeout=2s --retries=15 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2)"
CMD ["python", "-m", "uvicorn", "ops.sample_app.main:app", "--host", "0.0.0.0", "--port", "3000", "--no-access-log"]
