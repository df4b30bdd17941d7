# One image for web, worker and beat; the command picks the role.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY reminders ./reminders
COPY workers ./workers
COPY templates ./templates
# The metrics directory belongs to the app user, so the named volume mounted on it
# (docker-compose.yml, PROMETHEUS_MULTIPROC_DIR) starts out writable by every process.
RUN pip install --no-cache-dir . && useradd --create-home aftercare \
    && install -d -o aftercare -g aftercare /var/lib/aftercare/metrics
USER aftercare
EXPOSE 8000
CMD ["aftercare", "web", "--host", "0.0.0.0", "--port", "8000"]
