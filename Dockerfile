# The suite's own image (`rovn-ops remote run`, infra/). Built by the same CodeBuild
# path as the app and held to the §9 gates the suite enforces on it: python:3.11-slim
# pinned by digest, the lock installed (without the sandbox extra), a non-root UID.
# The task definition (infra/rovn-ops-runner.taskdef.json) makes the root file system
# read-only; /tmp, the task's ephemeral storage, is the only writable path.
FROM python:3.11-slim@sha256:2ec5a4a5c3e919570f57675471f081d6299668d909feabd8d4803c6c61af666c AS build
WORKDIR /build
COPY requirements-runtime.lock pyproject.toml README.md ./
COPY lib/ lib/
RUN pip install --no-cache-dir --prefix=/install -r requirements-runtime.lock \
 && pip install --no-cache-dir --prefix=/install --no-deps .

FROM python:3.11-slim@sha256:2ec5a4a5c3e919570f57675471f081d6299668d909feabd8d4803c6c61af666c
COPY --from=build /install /usr/local
WORKDIR /opt/rovn
COPY runbooks/ runbooks/
COPY parameters/ parameters/
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin rovn
ENV ROVN_HOME=/opt/rovn HOME=/tmp ROVN_EVIDENCE_DIR=/tmp/evidence PYTHONDONTWRITEBYTECODE=1
USER 10001
ENTRYPOINT ["rovn-ops"]
CMD ["list"]
