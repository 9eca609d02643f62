#!/usr/bin/env bash
# Installs what the project needs from Debian's packages when a fresh machine lacks it:
# a JDK (17+) and Maven for the local Kafka broker. PostgreSQL is installed by the test
# fixture on first use (boomerang.devstack.postgres).
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
