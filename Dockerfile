# The kboot worker image: `docker-compose build kboot-worker`, or
# `docker build -t kboot-worker .` from the repository root.
# The worker reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and KBOOT_TASK_QUEUE. SSH key
# material is mounted at run time (see docker-compose.yml) and never built in.

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /opt/kboot
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# .dockerignore keeps node_modules, dist, .git and key files out of this copy.
COPY . .
RUN npm run build

FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/kboot
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /opt/kboot/dist ./dist
USER node
CMD ["node", "dist/client/cli.js", "worker"]
