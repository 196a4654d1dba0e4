# smarts3 container image: `docker build -t smarts3 .`
# Configuration is SMARTS3_* environment variables (see the README table) or a config file named by
# SMARTS3_CONFIG. The server listens on 0.0.0.0, so it refuses to start without credentials: set
# SMARTS3_ACCESS_KEY_ID + SMARTS3_SECRET_ACCESS_KEY, or SMARTS3_AUTH_CREDENTIALS=AK:SECRET,...

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: build the wheel and install it with its dependencies into a self-contained venv
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN pip install --no-cache-dir "build==1.2.2.post1"
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist \
    && python -m venv --without-pip /opt/smarts3 \
    && pip --python /opt/smarts3/bin/python install --no-cache-dir /dist/*.whl

# --- final: the venv only; no pip cache, no build tools, no sources
FROM ${PYTHON_IMAGE}
ENV PATH="/opt/smarts3/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SMARTS3_SERVER_HOST=0.0.0.0 \
    SMARTS3_SERVER_PORT=9000 \
    SMARTS3_SERVER_SHUTDOWN_GRACE=8 \
    SMARTS3_STORAGE_DIRECTORY=/data \
    SMARTS3_LOGGING_FORMAT=json
RUN groupadd --system --gid 10001 smarts3 \
    && useradd --system --uid 10001 --gid smarts3 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin smarts3 \
    && mkdir -p /data \
    && chown smarts3:smarts3 /data
COPY --from=builder /opt/smarts3 /opt/smarts3
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9000
# no curl in a slim image: a python one-liner; https (unverified, it is our own certificate) when TLS is on
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os,ssl,urllib.request as u; t=os.environ.get('SMARTS3_SERVER_SSL_ENABLED','').lower() in ('1','true','yes','on'); u.urlopen(('https' if t else 'http')+'://127.0.0.1:'+os.environ.get('SMARTS3_SERVER_PORT','9000')+'/_health', timeout=4, context=ssl._create_unverified_context() if t else None)"]
# exec form: smarts3 is PID 1 and receives SIGTERM itself (graceful shutdown within the grace period, exit 0)
STOPSIGNAL SIGTERM
ENTRYPOINT ["smarts3"]
CMD ["serve"]
