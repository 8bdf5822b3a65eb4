# The platform's one image: Airflow 3 with the project's pinned dependencies and the project
# itself. docker-compose.yaml runs every Airflow component and the local BigQuery emulator
# from it. Validated by tests/unit/test_compose_file.py and test_production_stack.py, never
# built here (no Docker engine); `make airflow-cluster` runs the same components natively.
#
# Not based on apache/airflow: that image brings its own constraints file, and here
# requirements-runtime.lock alone decides every version, as `make setup` installs them.
FROM python:3.11-slim-bookworm

# PYTHONUNBUFFERED: task and component logs reach `docker compose logs` as they are written.
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow

# Debian packages (README, "The two commands"): the places scrapers drive this headless
# Chromium through this chromedriver (Selenium never downloads a browser), the places map
# needs a font with Hangul, LightGBM's wheel links the system OpenMP (libgomp1; the slim
# image has none), and curl runs the healthchecks in docker-compose.yaml.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium chromium-driver fonts-noto-cjk libgomp1 curl \
    && rm -rf /var/lib/apt/lists/*

# Non-root user, uid 50000 and group 0 as in the official Airflow image, so volumes and
# permissions behave the same as in any Airflow deployment.
RUN useradd --uid 50000 --gid 0 --create-home --home-dir /home/airflow --shell /bin/bash airflow

WORKDIR /opt/airflow

# Dependencies first, on their own layer: editing code does not reinstall them. The runtime
# lock only (requirements.txt resolved: Airflow, its Celery, Postgres and FAB providers, the
# platform's libraries), no test tools: tests/unit/test_production_stack.py checks it.
# --compile: bytecode at install time halves Airflow's import time on every task (as `make setup`).
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir --compile -r requirements-runtime.lock

# The project, installed editable on purpose: retention.config finds sql/ and include/data/
# relative to the source tree (PROJECT_ROOT), which a copy in site-packages would not have.
# The compose file mounts ./include over /opt/airflow/include; the install keeps pointing there.
COPY pyproject.toml ./
COPY include/ include/
RUN pip install --no-cache-dir --no-deps -e .

COPY dags/ dags/
COPY plugins/ plugins/
COPY sql/ sql/

# Folders the compose file mounts named volumes on. Docker copies a folder's owner into a new
# empty volume, so creating them here, owned by airflow, makes those volumes writable. The
# airflow CLI writes a default airflow.cfg into AIRFLOW_HOME on first use: airflow owns it too
# (the code in it stays root's, read-only to the user that runs it).
RUN mkdir -p logs .local/artifacts .local/outbox .local/bigquery \
    && chown airflow:0 /opt/airflow \
    && chown -R airflow:0 /opt/airflow/logs /opt/airflow/.local

USER airflow

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    RETENTION_CHROMIUM_BINARY=/usr/bin/chromium \
    RETENTION_CHROMEDRIVER=/usr/bin/chromedriver

# An empty BIGQUERY_EMULATOR_HOST (how the compose file's .env turns the emulator off) must
# be no variable at all: the BigQuery client would take the empty string as its endpoint.
ENTRYPOINT ["/bin/sh", "-c", "[ -n \"$BIGQUERY_EMULATOR_HOST\" ] || unset BIGQUERY_EMULATOR_HOST; exec \"$@\"", "--"]
CMD ["airflow", "version"]
