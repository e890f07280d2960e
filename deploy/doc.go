// Package deploy holds what runs ordertable for real outside Go: the one-shot setup scripts of
// docker-compose.yml (Elasticsearch security, Kibana saved objects, Kafka topics, PostgreSQL
// databases), the container health probe, and the tests that check, without Docker, the files
// that Docker reads: docker-compose.yml, Dockerfile, .dockerignore, .env.example, the Kibana
// NDJSON objects under mappings/kibana and the CI workflow.
//
// Layout:
//
//	elasticsearch/setup.sh     kibana_system password, one role and one user per component
//	elasticsearch/roles/*.json the least-privilege role of each component
//	kibana/import.sh           saved objects import (data view, saved search, dashboard)
//	kafka/create-topics.sh     compacted topics with their partition count
//	postgres/init-databases.sh one database and owner role per service
//	probe/                     HTTP health check binary for the distroless image
package deploy
