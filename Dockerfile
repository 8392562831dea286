# Infera's container image, in two stages (see README "Deploy").
#   build:   all dependencies (the TypeScript compiler is a dev dependency), compile, then drop
#            the dev dependencies so only production ones are copied on.
#   runtime: Node, the compiled server, production node_modules, the protos, and the bundled
#            model repository at /models, the conventional mount: mount your repository over it.
# The server is PID 1 (exec-form ENTRYPOINT, no shell in between), so `docker stop` and a
# Kubernetes pod's termination deliver SIGTERM to it and it drains before exiting 0.
# scripts/prove-container.mjs runs these stages' steps in a clean folder where no container
# runtime is available.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY proto ./proto
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/proto ./proto
COPY model-repository /models
USER node
# HTTP/REST, gRPC, Prometheus metrics: Triton's ports.
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:8000/v2/health/ready').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["--model-repository=/models"]
