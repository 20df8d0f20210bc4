# One image for web, worker and beat (docker-compose.yml chooses the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Hashed, compressed static files for WhiteNoise; the key is only for this build step.
RUN DEBUG=0 SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
 && useradd --system --no-create-home crm
USER crm

EXPOSE 8000
# Workers, timeouts, graceful reload and the access log: gunicorn.conf.py.
CMD ["gunicorn", "crm.wsgi:application", "--config", "gunicorn.conf.py"]
