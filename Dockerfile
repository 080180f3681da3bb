# One image for every bucketferry process: the worker, and the starter (its
# `server` sub-command is the Temporal server with the Web UI; `emulator` the
# OSS and COS emulators for a trial).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/worker ./worker \
 && CGO_ENABLED=0 go build -trimpath -o /out/starter ./starter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/bucketferry --create-home bucketferry
COPY --from=build /out/ /usr/local/bin/
USER bucketferry
WORKDIR /var/lib/bucketferry
# 7233 Temporal frontend, 8233 Temporal Web, 9000-9002 emulators.
EXPOSE 7233 8233 9000 9001 9002
CMD ["worker"]
