# One image for web, worker and beat (docker-compose.yml).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY symbiosis ./symbiosis
COPY listings ./listings
COPY matching ./matching
COPY harbors ./harbors
RUN pip install --no-cache-dir .
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0
RUN useradd --create-home app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "symbiosis.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
