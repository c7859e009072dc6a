#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing; quick no-op otherwise.
#   postgresql-15 + postgresql-15-postgis-3  the embedded PostGIS
#   gdal-bin                                 ogr2ogr/ogrinfo, the reference in benchmarks and tests
#   chromium                                 the browser for page tests
# and, named as arguments by `make test`, what only the tests need:
#   chromium-headless-shell                  the same Chromium without its user interface, which the page
#                                            tests drive (a third faster than `chromium --headless`)
#   python3-qgis + qgis-providers            the real QGIS (3.22, Debian's) the editing tests drive headless
#   nginx-light + memcached                  `hromada cluster up`: nginx in front of several app processes
#                                            sharing memcached (tests/webmap/test_cluster.py starts it)
#   pgbouncer                                the replica test runs through it in transaction mode
set -euo pipefail

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

PG_MAJOR="${PG_MAJOR:-15}"
for pkg in "postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-postgis-3" gdal-bin chromium "$@"; do
  have_pkg "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Бракує пакетів / missing Debian packages: ${missing[*]}" >&2
  echo "Встановіть їх / install them: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Встановлюю / installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The Debian package would start its own cluster on 5432; the project runs its own instead.
apt-get install -y -q --no-install-recommends "${missing[@]}"
