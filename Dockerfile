# Multi-stage build: a static fusionrank binary on a minimal, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# A plain build: the kernels (internal/kernel) run AVX-512 or AVX2 assembly when the CPU
# has it, chosen when the server starts, and their pure-Go twins otherwise.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fusionrank ./cmd/fusionrank

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fusionrank /usr/local/bin/fusionrank
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fusionrank"]
CMD ["serve"]
