#!/bin/sh
# Lets the replica of docker-compose.yml stream from the primary (password auth on the
# compose network).
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
