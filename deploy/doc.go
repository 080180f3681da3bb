// Package deploy holds the deployment files' tests: docker-compose.yml at
// the top of the repository (validated the way `docker compose config`
// does, with the compose-spec loader Docker Compose itself uses) and the
// worker configuration it mounts, deploy/bucketferry.yaml.
package deploy
