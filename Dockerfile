# Multi-stage build: a static fusionrank binary on a minimal, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# GOEXPERIMENT=simd: the scorer's AVX-512 path, chosen at run time when the CPU has it
# (the plain-Go path otherwise); see docs/benchmarks.md.
RUN CGO_ENABLED=0 GOEXPERIMENT=simd go build -trimpath -ldflags="-s -w" -o /out/fusionrank ./cmd/fusionrank

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fusionrank /usr/local/bin/fusionrank
USER nonroot:nonroot
# With GOEXPERIMENT=simd, Go 1.26's asynchronous preemption slows scalar float code.
ENV GODEBUG=asyncpreemptoff=1
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fusionrank"]
CMD ["serve"]
