# One image per service, each a target of this file: `docker build --target recorder .`
# (compose.yaml builds them all). Every image holds the roost library and one service with
# only its own extras, so a Pi that runs the i2c-bridge does not carry OpenCV.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ROOST_NODE__DATA_DIR=/data
RUN useradd --create-home --uid 1000 roost && mkdir /data && chown roost /data
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
VOLUME /data
WORKDIR /data

FROM base AS i2c-bridge
RUN pip install "/src[i2c]"
USER roost
CMD ["roost-i2c-bridge"]

FROM base AS recorder
RUN pip install "/src[recorder]"
USER roost
CMD ["roost-recorder"]

FROM base AS event-engine
RUN pip install "/src[event-engine]"
USER roost
CMD ["roost-event-engine"]

FROM base AS camera
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
RUN pip install "/src[camera]"
USER roost
CMD ["roost-camera"]

FROM base AS detector
RUN pip install "/src[detector,onnx]"
USER roost
CMD ["roost-detector"]

FROM base AS webui
RUN pip install "/src[webui]"
USER roost
EXPOSE 8080
CMD ["roost-webui"]

FROM base AS supervisor
RUN pip install "/src[supervisor]"
USER roost
CMD ["roost-supervisor"]
