# One image for web, worker and beat; the command picks the role.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY reminders ./reminders
COPY workers ./workers
COPY templates ./templates
RUN pip install --no-cache-dir . && useradd --create-home aftercare
USER aftercare
EXPOSE 8000
CMD ["aftercare", "web", "--host", "0.0.0.0", "--port", "8000"]
