#!/usr/bin/env bash
# The measured inputs of README "Beyond one machine, on paper": seed wall time and rows/s on the
# single node and on `--citus-workers N` (each a first seed into a freshly created topology, one
# after the other), then, per topology, rows and bytes per shard group and per worker (citus_shards,
# pg_dist_shard) and the profile's tenant skew (appointments per tenant).
#
# usage: scripts/citus-capacity.sh [QCHECK] [HOME] [PROFILE] [SCALE] [WORKERS...]
#   env SEED (default 42)
# e.g.   scripts/citus-capacity.sh target/release/qcheck /tmp/qcap clinic 1 1 2
# Destroys and recreates the embedded clusters under HOME (give it a home of its own).
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
topology_args /tmp/qcap 1 "$@"
WORK=$BENCH_DIR
show() { psql -X -At -F ' | ' -v ON_ERROR_STOP=1 "$1" -c "$2"; }

echo "# $PROFILE scale $SCALE, seed $SEED; $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| topology | seed wall s | appointments/s | qcheck's own phases |"
echo "|---|---:|---:|---|"
for n in 0 "${WORKERS[@]}"; do
    qc "$n" cluster destroy >&2
    qc "$n" cluster start > /dev/null
    start=$(date +%s.%N)
    qc "$n" seed --profile "$PROFILE" --scale "$SCALE" --seed "$SEED" --format json > "$WORK/seed-$n.json"
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    url=$(qc "$n" cluster url)
    appts=$(sql "$url" "SELECT count(*) FROM appointment")
    phases=$(python3 -c 'import json, sys
print(", ".join(f"{p['"'"'phase'"'"']} {p['"'"'seconds'"'"']:.1f} s" for p in json.load(open(sys.argv[1]))["phases"]))' "$WORK/seed-$n.json")
    printf '| %s | %.1f | %.0f | %s |\n' "$([[ $n -gt 0 ]] && echo "Citus, $n worker(s)" || echo "single node")" \
        "$wall" "$(echo "$appts / $wall" | bc -l)" "$phases"
done

for n in "${WORKERS[@]}"; do
    url=$(qc "$n" cluster url)
    echo
    echo "## Citus, $n worker(s): per shard group (the colocated shards of every table for one hash range)"
    echo
    # One row per shard group: its hash range's lower bound, worker, tenants, appointments and the
    # bytes of every distributed table's shard in it (partitions' shards and indexes included).
    groups="WITH app AS (
            SELECT shardid, shardminvalue::bigint AS lo FROM pg_dist_shard
             WHERE logicalrelid = 'appointment'::regclass),
        per_tenant AS (SELECT tenant_id, count(*) AS n FROM appointment GROUP BY tenant_id),
        rows AS (
            SELECT get_shard_id_for_distribution_column('appointment', tenant_id) AS shardid,
                   count(*) AS tenants, sum(n) AS appointments
              FROM per_tenant GROUP BY 1),
        bytes AS (
            SELECT s.shardminvalue::bigint AS lo, min(c.nodename) AS node, sum(c.shard_size) AS bytes
              FROM citus_shards c JOIN pg_dist_shard s USING (shardid)
             WHERE c.citus_table_type = 'distributed' GROUP BY 1)
        SELECT b.lo, b.node, coalesce(r.tenants, 0) AS tenants,
               coalesce(r.appointments, 0) AS appointments, b.bytes
          FROM bytes b JOIN app USING (lo) LEFT JOIN rows r USING (shardid)"
    echo "shard group (hash min) | node | tenants | appointments | bytes | size"
    show "$url" "SELECT *, pg_size_pretty(bytes) FROM ($groups) g ORDER BY lo"
    echo
    echo "node | shard groups | tenants | appointments | bytes | size | bytes per appointment"
    show "$url" "SELECT node, count(*), sum(tenants), sum(appointments), sum(bytes),
                       pg_size_pretty(sum(bytes)), round(sum(bytes) / nullif(sum(appointments), 0))
                  FROM ($groups) g GROUP BY node ORDER BY node"
    echo
    echo "reference table shards (tenant) per node: $(show "$url" "SELECT string_agg(nodename || ' ' || pg_size_pretty(shard_size), ', ') FROM citus_shards WHERE citus_table_type = 'reference'")"
    echo
    echo "database size per node (pg_database_size, everything: catalogs, WAL excluded)"
    for node in $(sql "$url" "SELECT DISTINCT nodename FROM citus_shards ORDER BY 1"); do
        echo "$node: $(psql -X -At "${url%%\?*}?host=$node&port=5432" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    done
done

url=$(qc 0 cluster url)
echo
echo "## Tenant skew (single node): appointments per tenant"
echo
show "$url" "
    SELECT count(*) AS tenants, sum(n) AS appointments, max(n) AS largest, min(n) AS smallest,
           round(100.0 * max(n) / sum(n), 2) AS largest_share_pct,
           round(max(n) / avg(n), 2) AS largest_vs_mean
      FROM (SELECT tenant_id, count(*) AS n FROM appointment GROUP BY 1) t"
echo
echo "single-node sizes: appointment $(sql "$url" "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('appointment')"), database $(sql "$url" "SELECT pg_size_pretty(pg_database_size(current_database()))")"
