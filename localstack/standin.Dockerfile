# The product API stand-in (local/shop_local/standin) for the LocalStack compose file: built once
# from this repository, so the container starts without the network.
#   docker compose -f localstack/docker-compose.yml build product-api
FROM python:3.11-slim
WORKDIR /app
COPY localstack/standin-requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes -r /tmp/requirements.txt
COPY local/shop_local/__init__.py /app/shop_local/__init__.py
COPY local/shop_local/standin /app/shop_local/standin
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1
USER nobody
EXPOSE 8090
CMD ["python", "-m", "shop_local.standin", "--host", "0.0.0.0", "--port", "8090"]
