# The controller image for Docker or buildx users; `make image` builds the same image without Docker
# (image/build.py: mmdebstrap + an OCI archive) and is what the tests run. Same layout either way:
# Debian bookworm's Python 3.11, the locked runtime dependencies in /opt/kube-rollouts/lib, user 65532.
# Not built in CI here (no Docker engine on the build machine).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
      --target /opt/kube-rollouts/lib -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY rollouts rollouts
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --target /opt/kube-rollouts/lib . \
 && rm -rf /opt/kube-rollouts/lib/bin

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man \
 && echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'nonroot:x:65532:' >> /etc/group && mkdir -p /home/nonroot && chown 65532:65532 /home/nonroot
COPY --from=build /opt/kube-rollouts /opt/kube-rollouts
RUN python3 -m compileall -q /opt/kube-rollouts/lib
ENV PYTHONPATH=/opt/kube-rollouts/lib PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 8080 8081
ENTRYPOINT ["/usr/bin/python3", "-m", "rollouts.controller"]
CMD ["run"]
