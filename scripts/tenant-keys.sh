#!/usr/bin/env bash
# Should the single-node model adopt Citus's tenant-leading keys? (README "The data model" >
# "Tenant-leading keys on one node".) Seeds PROFILE SCALE on the single node, copies the database
# twice (CREATE DATABASE ... TEMPLATE: qcheck_single_keys as it is, qcheck_tenant_keys with the key
# changes of sql/citus/distribute.sql), then compares the two copies: table and index sizes,
# `qcheck check` on each (exit code and every query's plan), and latencies with round-robin pgbench
# (scripts/bench-lib.sh; the booking is inserted and rolled back, which leaves dead rows, so on the
# copies). The database qcheck uses is only read; both copies are replaced on every run.
#
# usage: scripts/tenant-keys.sh [QCHECK] [HOME] [PROFILE] [SCALE]
#   env SECONDS_PER_RUN (default 4), ROUNDS (default 3), SEED (default 42), ONLY (an extended regex:
#       only the latency queries whose name matches, e.g. ONLY='booking|tenant and id')
# e.g.   scripts/tenant-keys.sh target/release/qcheck /tmp/qkeys clinic 1
set -euo pipefail

QCHECK=${1:-target/release/qcheck}
HOME_DIR=${2:-/tmp/qkeys}
PROFILE=${3:-clinic}
SCALE=${4:-1}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-42}
HERE=$(dirname "$0")
source "$HERE/bench-lib.sh"
DATASET=(--profile "$PROFILE" --scale "$SCALE" --seed "$SEED")

"$QCHECK" --home "$HOME_DIR" seed "${DATASET[@]}" >&2
SEEDED=$("$QCHECK" --home "$HOME_DIR" cluster url)
ORIG="${SEEDED/\/qcheck\?//qcheck_single_keys?}"
COPY="${SEEDED/\/qcheck\?//qcheck_tenant_keys?}"
ADMIN="${SEEDED/\/qcheck\?//postgres?}"

for copy in qcheck_single_keys qcheck_tenant_keys; do
    sql "$ADMIN" "DROP DATABASE IF EXISTS $copy" >&2
    sql "$ADMIN" "CREATE DATABASE $copy TEMPLATE qcheck" >&2
done
# The key changes of sql/citus/distribute.sql without the distribution: its guard functions (the
# partition guard recognises the tenant-leading constraint), its foreign keys dropped, its keys, the
# month partitions' old guards dropped, its foreign keys back, then scripts/tenant-keys.sql (the
# month partitions' tenant-leading guards, statistics).
DISTRIBUTE="$HERE/../sql/citus/distribute.sql"
start=$(date +%s.%N)
{
    awk '/^CREATE OR REPLACE FUNCTION add_appointment_partition_exclusion/ {on = 1}
         /^-- As 0003/ {on = 0}
         on' "$DISTRIBUTE"
    # 0003's event trigger would add the old-form guard to partitions the keys' DDL touches.
    echo "SET appointment.partition_guard = 'deferred'; SET maintenance_work_mem = '512MB';"
    awk '/^-- Foreign keys go first/ {on = 1} /^-- Citus refuses a subquery/ {on = 0} on' "$DISTRIBUTE"
    grep -E '^ALTER TABLE [a-z_]+ ADD CONSTRAINT [a-z_]+ FOREIGN KEY' "$DISTRIBUTE"
    cat "$HERE/tenant-keys.sql"
} | psql -X -q -v ON_ERROR_STOP=1 "$COPY" >&2
echo "# key change on the copy (with VACUUM ANALYZE): $(echo "$(date +%s.%N) - $start" | bc) s"

# Sizes: tables with their partitions' leaves summed; indexes by their parent (a partitioned
# index) or, for the per-partition exclusion constraints, by name without the month.
SIZES="SELECT kind, name, sum(bytes) FROM (
    SELECT 'table' AS kind, coalesce(pg_partition_root(c.oid), c.oid)::regclass::text AS name,
           pg_table_size(c.oid) AS bytes
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT LIKE 'qcheck\\_%'
    UNION ALL
    SELECT 'index', regexp_replace(coalesce(pg_partition_root(c.oid), c.oid)::regclass::text, '_y[0-9]{4}m[0-9]{2}', ''),
           pg_relation_size(c.oid)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'i' AND c.relname NOT LIKE 'qcheck\\_%') s
  GROUP BY 1, 2 ORDER BY 1 DESC, 2"
echo
echo "### Sizes ($PROFILE $SCALE, seed $SEED)"
echo
echo "| | relation | single-node keys | tenant-leading keys | change |"
echo "|---|---|---:|---:|---:|"
LC_ALL=C join -t '|' -a 1 -a 2 -e 0 -o 0,1.2,2.2 \
    <(sql "$ORIG" "SELECT kind || ' ' || name, sum FROM ($SIZES) x" | LC_ALL=C sort -t '|' -k1,1) \
    <(sql "$COPY" "SELECT kind || ' ' || name, sum FROM ($SIZES) x" | LC_ALL=C sort -t '|' -k1,1) |
    awk -F'|' '{ split($1, k, " "); a += $2; b += $3;
                 printf "| %s | %s | %.1f MiB | %.1f MiB | %+.1f MiB |\n", k[1], k[2], $2 / 1048576, $3 / 1048576, ($3 - $2) / 1048576 }
               END { printf "| | **total** | %.1f MiB | %.1f MiB | %+.1f%% |\n", a / 1048576, b / 1048576, (b - a) * 100 / a }'

echo
echo "### qcheck check"
for target in "$ORIG" "$COPY"; do
    status=0
    echo
    echo '```text'
    COLUMNS=250 "$QCHECK" --database-url "$target" check "${DATASET[@]}" || status=$?
    echo '```'
    echo "exit $status"
done

# Latencies. Parameters from the data: a live patient, an appointment, a provider's booked day.
IFS='|' read -r TENANT PATIENT <<< "$(sql "$ORIG" "SELECT tenant_id, id FROM patient WHERE deleted_at IS NULL ORDER BY id LIMIT 1")"
IFS='|' read -r A_TENANT APPT PROVIDER PAT DAY <<< "$(sql "$ORIG" \
    "SELECT tenant_id, id, provider_id, patient_id,
            to_char(date_trunc('day', scheduled_at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
       FROM appointment
      WHERE status = 'booked' ORDER BY provider_id, scheduled_at LIMIT 1")"
VARS="tenant=$TENANT patient=$PATIENT a_tenant=$A_TENANT appt=$APPT provider=$PROVIDER pat=$PAT day=$DAY"
bench_query() { # name sql (with :variables from VARS, bound as parameters)
    [[ -n ${ONLY:-} && ! $1 =~ $ONLY ]] && return 0
    printf '%s\n' "$2" > "$BENCH_DIR/$1.sql"
    bench_add "$1" "single-node keys" "$ORIG" "" "$BENCH_DIR/$1.sql" "$VARS"
    bench_add "$1" "tenant-leading keys" "$COPY" "" "$BENCH_DIR/$1.sql" "$VARS"
}
bench_query "patient by id" "SELECT * FROM patient WHERE id = :patient;"
bench_query "patient by tenant and id" "SELECT * FROM patient WHERE tenant_id = :tenant AND id = :patient;"
bench_query "appointment by id" "SELECT * FROM appointment WHERE id = :appt;"
bench_query "appointment by tenant and id" "SELECT * FROM appointment WHERE tenant_id = :a_tenant AND id = :appt;"
bench_query "provider_day" "SELECT a.scheduled_at, a.duration_min, a.status, a.patient_id, a.id FROM appointment a
 WHERE a.provider_id = :provider AND a.scheduled_at >= :day::timestamptz
   AND a.scheduled_at < :day::timestamptz + interval '1 day' AND a.status <> 'cancelled' ORDER BY a.scheduled_at;"
# A booking (Sunday 2026-01-18 12:00 UTC: nobody works on Sundays, so it never conflicts), rolled back:
# the keys, the exclusion constraint, the foreign keys and the audit trigger, as a booking pays them.
bench_query "booking (insert, rolled back)" "BEGIN;
INSERT INTO appointment (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min)
VALUES (gen_random_uuid(), :a_tenant, :provider, :pat, '2026-01-18T12:00:00Z', 30);
ROLLBACK;"
echo
echo "### Latencies: $PROFILE $SCALE, pgbench -n -M prepared -c 1, $ROUNDS rounds × ${SECONDS_PER_RUN} s, round-robin; $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench_run "$ROUNDS" "$SECONDS_PER_RUN"
bench_report
