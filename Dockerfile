# One image for web, worker and beat (compose.yaml picks the command).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system docchain && useradd --system --gid docchain --home /app docchain
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=docchain:docchain . .
# Static files are collected at build time and served by the ASGI process (whitenoise).
# Production settings refuse weak keys, so the build uses throwaway random ones.
RUN SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))') \
    ENCRYPTION_KEY=$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var /var/lib/docchain/prometheus \
    && chown -R docchain:docchain var /var/lib/docchain

USER docchain
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health')"
# bin/web: WEB_CONCURRENCY uvicorn processes, one per core by default.
CMD ["bin/web"]
