# One image per service, each a target of this file: `docker build --target recorder .`
# (compose.yaml builds them all). Every image holds the roost library and one service with
# only its own extras, so a Pi that runs the i2c-bridge does not carry OpenCV.
#
# The builder stage makes every wheel any service needs once (roost's own and all its
# dependencies). A `<service>-venv` stage installs one service's extras from that
# wheelhouse, offline, into a venv without pip; the service's image copies only that venv,
# so no wheel, pip cache or compiler is shipped.

FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
# imageio-ffmpeg ships a static ffmpeg with libx264 for the camera (Debian's ffmpeg brings
# about 700 MB of X, GL and audio libraries that recording to a file never uses).
RUN pip wheel --wheel-dir /wheels ".[all,onnx]" "imageio-ffmpeg==0.8.1"

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/roost/bin:$PATH \
    ROOST_NODE__DATA_DIR=/data
RUN useradd --create-home --uid 1000 roost && mkdir /data && chown roost:roost /data
VOLUME /data
WORKDIR /data
# Shutdown takes at most 2 s (info `stopped`, `offline`, disconnect).
STOPSIGNAL SIGTERM

FROM builder AS i2c-bridge-venv
# The builder's wheelhouse pins every version; the test suites numpy & co. ship are cut.
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels "roost[i2c]" \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

FROM runtime AS i2c-bridge
COPY --from=i2c-bridge-venv /opt/roost /opt/roost
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "i2c-bridge"]
CMD ["roost-i2c-bridge"]

FROM builder AS recorder-venv
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels "roost[recorder]" \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

FROM runtime AS recorder
COPY --from=recorder-venv /opt/roost /opt/roost
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "recorder"]
CMD ["roost-recorder"]

FROM builder AS event-engine-venv
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels "roost[event-engine]" \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

FROM runtime AS event-engine
COPY --from=event-engine-venv /opt/roost /opt/roost
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "event-engine"]
CMD ["roost-event-engine"]

FROM builder AS camera-venv
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels \
        "roost[camera]" imageio-ffmpeg \
    && ln -s "$(/opt/roost/bin/python -c 'import imageio_ffmpeg as f; print(f.get_ffmpeg_exe())')" \
        /opt/roost/bin/ffmpeg \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

# The camera writes its h264 segments through the venv's ffmpeg (on PATH).
FROM runtime AS camera
COPY --from=camera-venv /opt/roost /opt/roost
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "camera"]
CMD ["roost-camera"]

FROM builder AS detector-venv
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels "roost[detector,onnx]" \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

FROM runtime AS detector
COPY --from=detector-venv /opt/roost /opt/roost
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "detector"]
CMD ["roost-detector"]

FROM builder AS webui-venv
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels "roost[webui]" \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

FROM runtime AS webui
COPY --from=webui-venv /opt/roost /opt/roost
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "webui"]
CMD ["roost-webui"]

FROM builder AS supervisor-venv
# hadolint ignore=DL3013
RUN python -m venv --without-pip /opt/roost \
    && pip --python /opt/roost/bin/python install --no-index --find-links /wheels "roost[supervisor]" \
    && find /opt/roost -depth -type d -name tests -exec rm -rf {} +

FROM runtime AS supervisor
COPY --from=supervisor-venv /opt/roost /opt/roost
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-m", "roost.healthcheck", "supervisor"]
CMD ["roost-supervisor"]
