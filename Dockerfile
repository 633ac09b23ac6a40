# DataManager container image. tests/run.sh proves what it can without a Docker daemon
# (tests/DataManager.Tests/Deployment/ContainerImageTests.cs): it copies the build context as the COPY lines
# below say, runs this file's `dotnet restore` and `dotnet publish` lines with their exact arguments, and starts
# the result as user 1000 with this file's ENV, a read-only root filesystem and writable /data and /tmp volumes.
ARG DOTNET_VERSION=10.0

# Build: restore first (cached while only the sources change), then publish framework-dependent, without an apphost,
# with ReadyToRun code for the target architecture (TARGETARCH, set by BuildKit: amd64, arm64): a process starts
# without JIT-compiling the app and its packages, which is most of what a short-lived CLI run (the audit verb)
# spent before its work (measured: docs/benchmarks.md, "Audit CLI, as a user runs it").
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props NatsClient.props .editorconfig ./
COPY src/DataManager.Service/DataManager.Service.csproj src/DataManager.Service/
RUN dotnet restore src/DataManager.Service/DataManager.Service.csproj -a $TARGETARCH -p:PublishReadyToRun=true
COPY src/ src/
RUN dotnet publish src/DataManager.Service/DataManager.Service.csproj --no-restore -c Release -a $TARGETARCH --self-contained false -p:PublishReadyToRun=true -o /app -p:UseAppHost=false

# Runtime: chiseled ASP.NET (no shell, no package manager), non-root, read-only root filesystem friendly.
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble-chiseled AS runtime
WORKDIR /app
COPY --from=build /app ./
# Everything the process writes goes to the two volumes: SQLite files under DATA_DIR, runtime files under TMPDIR.
# Small pod: workstation, non-concurrent GC with a conserving heap, no tiered PGO instrumentation, two malloc arenas,
# invariant globalization (no ICU to load). Measured idle RSS and what each setting did: README, "Deploy".
# A 16 MB gen0 budget (hex): otherwise the GC sizes gen0 from the node's L3 cache (up to ~200 MB on large server
# CPUs), and that, not live data, is most of the private memory under load (README, Benchmarks, "Memory").
# ASPNETCORE_HTTP_PORTS is cleared because the app binds API_PORT itself (the base image sets 8080).
ENV API_PORT=8000 \
    DATA_DIR=/data \
    TMPDIR=/tmp \
    ASPNETCORE_HTTP_PORTS= \
    DOTNET_gcServer=0 \
    DOTNET_gcConcurrent=0 \
    DOTNET_GCConserveMemory=5 \
    DOTNET_GCgen0size=1000000 \
    DOTNET_TieredPGO=0 \
    MALLOC_ARENA_MAX=2 \
    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
USER 1000:1000
EXPOSE 8000
VOLUME ["/data", "/tmp"]
ENTRYPOINT ["dotnet", "DataManager.Service.dll"]
