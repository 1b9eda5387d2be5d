#!/usr/bin/env bash
# Unix socket against TCP, with Citus's default `citus.node_conninfo = 'sslmode=require'` (so TLS) and
# with `sslmode=disable`, between the coordinator and a worker (README "Sharding with Citus" > "Coordinator overhead").
# On an embedded topology already seeded (scripts/citus-overhead.sh seeds one), the worker holding the
# first live patient's tenant also listens on 127.0.0.1 (ALTER SYSTEM listen_addresses, restarted as
# the server's OS user); each round re-points its registration (citus_update_node) to the socket
# folder, then to 127.0.0.1, and times patient_by_mrn through the coordinator with pgbench, with
# the worker connection cached (Citus's default) and with a new one per transaction
# (citus.max_cached_conns_per_worker = 0). At the end the socket registration and the worker's
# listen_addresses are restored.
#
# usage: scripts/citus-transport.sh [QCHECK] [HOME] [PROFILE] [SCALE] [WORKERS]
#   env SECONDS_PER_RUN (default 3), ROUNDS (default 5), SEED (default 42)
# e.g.   scripts/citus-transport.sh target/release/qcheck /tmp/qtopo clinic 0.1 2
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
topology_args /tmp/qtopo 0.1 "$@"
N=${WORKERS[0]}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
ROUNDS=${ROUNDS:-5}

qc "$N" seed --profile "$PROFILE" --scale "$SCALE" --seed "$SEED" > /dev/null
COORD=$(qc "$N" cluster url)
IFS='|' read -r TENANT MRN <<< "$(sql "$COORD" \
    "SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL ORDER BY id LIMIT 1")"
IFS='|' read -r NODEID SOCKET <<< "$(sql "$COORD" \
    "SELECT n.nodeid, n.nodename FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
      WHERE p.shardid = get_shard_id_for_distribution_column('patient', '$TENANT'::uuid)")"
DATA=$(dirname "$SOCKET")/data
WORKER="${COORD%%\?*}?host=$SOCKET&port=5432"
OWNER=$(stat -c %U "$DATA")
# The running server's own binaries (its postmaster's executable).
PG_CTL=$(dirname "$(readlink -f "/proc/$(head -1 "$DATA/postmaster.pid")/exe")")/pg_ctl
restart_worker() {
    local cmd="'$PG_CTL' -D '$DATA' restart -w -m fast -l '$DATA/../server.log'"
    if [[ $(id -u) -eq 0 ]]; then
        su "$OWNER" -s /bin/sh -c "$cmd" > /dev/null
    else
        sh -c "$cmd" > /dev/null
    fi
}

restore() {
    sql "$COORD" "SELECT citus_update_node($NODEID, '$SOCKET', 5432)" > /dev/null
    sql "$COORD" "ALTER SYSTEM RESET citus.node_conninfo" > /dev/null
    sql "$COORD" "SELECT pg_reload_conf()" > /dev/null
    sql "$WORKER" "ALTER SYSTEM RESET listen_addresses" > /dev/null
    restart_worker
    rm -rf "$BENCH_DIR"
}
trap restore EXIT
sql "$WORKER" "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" > /dev/null
restart_worker

cat > "$BENCH_DIR/q.sql" <<'SQL'
SELECT p.id, p.given_name, p.family_name, p.birth_date FROM patient p
 WHERE p.tenant_id = :tenant AND p.mrn = :mrn AND p.deleted_at IS NULL;
SQL
# Each variant sets the node's address and citus.node_conninfo (Citus's default, sslmode=require, or
# sslmode=disable: TCP without TLS), then reloads the coordinator's configuration.
point() { # address conninfo
    sql "$COORD" "SELECT citus_update_node($NODEID, '$1', 5432)" > /dev/null
    sql "$COORD" "ALTER SYSTEM SET citus.node_conninfo = '$2'" > /dev/null
    sql "$COORD" "SELECT pg_reload_conf()" > /dev/null
}
to_socket="point '$SOCKET' sslmode=require"
to_tcp="point 127.0.0.1 sslmode=require"
to_tcp_plain="point 127.0.0.1 sslmode=disable"
vars="tenant=$TENANT mrn=$MRN"
nocache="-c citus.max_cached_conns_per_worker=0"
bench_add "patient_by_mrn, cached connection" "Unix socket" "$COORD" "" "$BENCH_DIR/q.sql" "$vars" prepared "$to_socket"
bench_add "patient_by_mrn, cached connection" "TCP + TLS" "$COORD" "" "$BENCH_DIR/q.sql" "$vars" prepared "$to_tcp"
bench_add "patient_by_mrn, cached connection" "TCP, sslmode=disable" "$COORD" "" "$BENCH_DIR/q.sql" "$vars" prepared "$to_tcp_plain"
bench_add "patient_by_mrn, new connection per transaction" "Unix socket" "$COORD" "$nocache" "$BENCH_DIR/q.sql" "$vars" prepared "$to_socket"
bench_add "patient_by_mrn, new connection per transaction" "TCP + TLS" "$COORD" "$nocache" "$BENCH_DIR/q.sql" "$vars" prepared "$to_tcp"
bench_add "patient_by_mrn, new connection per transaction" "TCP, sslmode=disable" "$COORD" "$nocache" "$BENCH_DIR/q.sql" "$vars" prepared "$to_tcp_plain"

echo "# $PROFILE scale $SCALE, seed $SEED, $N workers: coordinator to $SOCKET (node $NODEID); pgbench -n -M prepared -c 1, $ROUNDS rounds × ${SECONDS_PER_RUN} s, round-robin; $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench_run "$ROUNDS" "$SECONDS_PER_RUN"
point 127.0.0.1 sslmode=require
echo "# TLS on the TCP connection (checked on the worker): $(psql -X -At "host=127.0.0.1 port=5432 user=qcheck dbname=$(sql "$COORD" "SELECT current_database()") sslmode=require" -c "SELECT ssl || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")"
bench_report
