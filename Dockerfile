# syntax=docker/dockerfile:1
#
# roomcast image: one image for every role (`node bin/roomcast.js <role>`).
# TypeScript runs through tsx at run time, so there is no compile stage: the
# first stage installs the production dependencies from the lockfile, the
# second adds the source tree and runs as an unprivileged user.
#
#   docker build -t roomcast:0.1.0 .
#   docker run --rm -p 8080:8080 -p 8081:8081 roomcast:0.1.0 standalone
#
# k8s/manifests.test.ts checks these stages against package.json on machines
# without a Docker engine; see docs/deploy.md.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts stay off, as in package.json's allowScripts: every native
# module used here ships prebuilt binaries.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

# The live-room page's SDK bundle: built with the dev dependencies (esbuild),
# of which only the output reaches the runtime image.
FROM ${NODE_IMAGE} AS page
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build:page

FROM ${NODE_IMAGE} AS runtime
# NODE_ENV is left to the deployment: production refuses to start without
# API keys and a JWT secret, which a quick `docker run` does not have.
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# The source tree, filtered by .dockerignore; owned by root and read-only
# for the user the process runs as.
COPY . .
COPY --from=page /app/sdk/dist ./sdk/dist
# The `node` user of the official image; numeric so that Kubernetes'
# runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000
EXPOSE 8080 8081 8082
ENTRYPOINT ["node", "bin/roomcast.js"]
CMD ["standalone"]
