#!/usr/bin/env bash
# Where a tenant-scoped router query's time goes on Citus (README "Sharding with Citus" > "Coordinator
# overhead"). Seeds one dataset on the single node and on `--citus-workers N` for each N, then times
# tenant-scoped queries with `pgbench -n -M prepared -c 1` against every target and setting below,
# round-robin (each variant once per round, ROUNDS rounds of SECONDS each), so every ratio comes from
# the same run on a shared, noisy machine. Prints one Markdown table per query: p50 and p90 of every
# transaction (pgbench's per-transaction log), and the p50 against the single node's.
#
# usage: scripts/citus-overhead.sh [QCHECK] [HOME] [PROFILE] [SCALE] [WORKERS...]
#   env SECONDS_PER_RUN (default 4), ROUNDS (default 3), SEED (default 42),
#       QUERIES (default "patient_by_mrn provider_day"), ONLY (an extended regex: only the variants
#       whose label matches, e.g. ONLY='^(single|2w (shard-direct|shard-simple|coord|worker-local))$')
# e.g.   scripts/citus-overhead.sh target/release/qcheck /tmp/qtopo clinic 0.1 1 2
#
# Every query runs as the database owner (no row-level security), with fixed parameters picked from
# the seeded data (the same rows on every topology). Variants:
#   single          the single node
#   single generic  ... plan_cache_mode = force_generic_plan (the plan built once, pruned at run time)
#   shard-direct    the worker that holds the tenant's shard, the shard tables by name (no Citus)
#   shard-simple    ... `pgbench -M simple`: the values as literals in the text, parsed and planned per
#                   execution, which is how the coordinator sends the query to the worker
#   coord           the coordinator, Citus defaults (fast-path router, plan_cache_mode auto)
#   coord-custom    ... plan_cache_mode = force_custom_plan (Citus plans every execution)
#   coord-generic   ... plan_cache_mode = force_generic_plan (deferred pruning from the first execution)
#   coord-nofast    ... citus.enable_fast_path_router_planner = off (the full router planner)
#   coord-nocache   ... citus.max_cached_conns_per_worker = 0 (a new worker connection per transaction)
#   coord-delegated the coordinator, the query wrapped in a PL/pgSQL function distributed by its
#                   tenant argument (create_distributed_function ... colocate_with): Citus delegates
#                   the call to the tenant's worker, whose function body runs there by local
#                   execution, the path Citus's local plan cache serves (the script creates the
#                   function qcheck_bench_<query> and drops it at the end)
#   worker-local    the shard's worker, the distributed table (metadata is synced to the workers, the
#                   shard is local: local execution, no second connection)
#   worker-nolocal  ... citus.enable_local_execution = off (the worker connects to itself)
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
topology_args /tmp/qtopo 0.1 "$@"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
ROUNDS=${ROUNDS:-3}

for n in 0 "${WORKERS[@]}"; do
    echo "seeding $PROFILE $SCALE (seed $SEED) on $n workers (0 = single node)" >&2
    qc "$n" seed --profile "$PROFILE" --scale "$SCALE" --seed "$SEED" >&2
done

SINGLE=$(qc 0 cluster url)

# Fixed parameters from the seeded data (the same rows on every topology): the first live patient's
# tenant and MRN, and the first booked appointment's provider, tenant and day.
IFS='|' read -r TENANT MRN <<< "$(sql "$SINGLE" \
    "SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL ORDER BY id LIMIT 1")"
IFS='|' read -r P_TENANT PROVIDER DAY <<< "$(sql "$SINGLE" \
    "SELECT tenant_id, provider_id, to_char(date_trunc('day', scheduled_at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
       FROM appointment
      WHERE status = 'booked' ORDER BY provider_id, scheduled_at LIMIT 1")"

# The two queries: patient_by_mrn as in sql/queries, provider_day with its tenant named (a Citus
# router query needs the distribution column). TABLE_* are replaced per target.
cat > "$BENCH_DIR/patient_by_mrn.tpl" <<SQL
SELECT p.id, p.given_name, p.family_name, p.birth_date FROM TABLE_patient p
 WHERE p.tenant_id = :tenant AND p.mrn = :mrn AND p.deleted_at IS NULL;
SQL
cat > "$BENCH_DIR/provider_day.tpl" <<SQL
SELECT a.scheduled_at, a.duration_min, a.status, a.patient_id, a.id FROM TABLE_appointment a
 WHERE a.tenant_id = :tenant AND a.provider_id = :provider
   AND a.scheduled_at >= :day::timestamptz AND a.scheduled_at < :day::timestamptz + interval '1 day'
   AND a.status <> 'cancelled'
 ORDER BY a.scheduled_at;
SQL

# bench_variant QUERY LABEL URL PGOPTIONS [TABLE_SUFFIX] [MODE]: the query's script on that server.
bench_variant() {
    [[ -n ${ONLY:-} && ! $2 =~ $ONLY ]] && return 0
    local file="$BENCH_DIR/${#B_LABEL[@]}.sql"
    local quote=""
    # Simple mode substitutes the values as they are: literals need quotes.
    [[ ${6:-} == simple ]] && quote="s/:(tenant|mrn|provider|day)\\b/':\\1'/g"
    sed -E -e "s/TABLE_patient/patient${5:-}/" -e "s/TABLE_appointment/appointment${5:-}/" \
        -e "${quote:-s/^//}" "$BENCH_DIR/$1.tpl" > "$file"
    bench_add "$1" "$2" "$3" "$4" "$file" "$(query_vars "$1")" "${6:-prepared}"
}

# query_vars QUERY: its pgbench variables (the fixed parameters).
query_vars() {
    if [[ $1 == provider_day ]]; then
        echo "tenant=$P_TENANT provider=$PROVIDER day=$DAY"
    else
        echo "tenant=$TENANT mrn=$MRN"
    fi
}

declare -A COORD HOST_P HOST_A SHARD_P SHARD_A
for n in "${WORKERS[@]}"; do
    COORD[$n]=$(qc "$n" cluster url)
    shard_of() { # table tenant -> "socket folder of its worker|shard id"
        sql "${COORD[$n]}" "SELECT s.nodename, s.shardid FROM pg_dist_shard_placement s
                             WHERE s.shardid = get_shard_id_for_distribution_column('$1', '$2'::uuid)"
    }
    IFS='|' read -r "HOST_P[$n]" "SHARD_P[$n]" <<< "$(shard_of patient "$TENANT")"
    IFS='|' read -r "HOST_A[$n]" "SHARD_A[$n]" <<< "$(shard_of appointment "$P_TENANT")"
done

# Function call delegation: the query as a PL/pgSQL function of the same parameters, distributed by
# its tenant argument and colocated with the table it reads.
delegated_sql() { # query -> CREATE FUNCTION ...; SELECT create_distributed_function(...)
    local types cols body table
    if [[ $1 == patient_by_mrn ]]; then
        types="uuid, text" table=patient
        cols="id uuid, given_name text, family_name text, birth_date date"
        body=$(sed -E -e 's/:tenant\b/$1/g' -e 's/:mrn\b/$2/g' "$BENCH_DIR/$1.tpl")
    else
        types="uuid, uuid, timestamptz" table=appointment
        cols="scheduled_at timestamptz, duration_min smallint, status appointment_status,
              patient_id uuid, id uuid"
        body=$(sed -E -e 's/:tenant\b/$1/g' -e 's/:provider\b/$2/g' -e 's/:day\b/$3/g' \
            "$BENCH_DIR/$1.tpl")
    fi
    body=$(sed -E -e "s/TABLE_$table/$table/" -e 's/;$//' <<< "$body")
    echo "CREATE OR REPLACE FUNCTION qcheck_bench_$1($types) RETURNS TABLE ($cols)
          LANGUAGE plpgsql STABLE AS \$f\$ BEGIN RETURN QUERY $body; END \$f\$;
          SELECT create_distributed_function('qcheck_bench_$1($types)', '\$1',
                                             colocate_with := '$table')"
}
DELEGATED=()
drop_delegated() {
    local q n
    for q in "${DELEGATED[@]}"; do
        for n in "${WORKERS[@]}"; do
            sql "${COORD[$n]}" "DROP FUNCTION IF EXISTS qcheck_bench_$q" > /dev/null || true
        done
    done
    rm -rf "$BENCH_DIR"
}
trap drop_delegated EXIT

for q in ${QUERIES:-patient_by_mrn provider_day}; do
    bench_variant "$q" single "$SINGLE" ""
    bench_variant "$q" "single generic" "$SINGLE" "-c plan_cache_mode=force_generic_plan"
    for n in "${WORKERS[@]}"; do
        c=${COORD[$n]}
        if [[ $q == patient_by_mrn ]]; then
            host=${HOST_P[$n]} shard=${SHARD_P[$n]}
        else
            host=${HOST_A[$n]} shard=${SHARD_A[$n]}
        fi
        worker="${c%%\?*}?host=$host&port=5432"
        bench_variant "$q" "${n}w shard-direct" "$worker" "" "_$shard"
        bench_variant "$q" "${n}w shard-simple" "$worker" "" "_$shard" simple
        bench_variant "$q" "${n}w coord" "$c" ""
        bench_variant "$q" "${n}w coord-custom" "$c" "-c plan_cache_mode=force_custom_plan"
        bench_variant "$q" "${n}w coord-generic" "$c" "-c plan_cache_mode=force_generic_plan"
        bench_variant "$q" "${n}w coord-nofast" "$c" "-c citus.enable_fast_path_router_planner=off"
        bench_variant "$q" "${n}w coord-nocache" "$c" "-c citus.max_cached_conns_per_worker=0"
        if [[ -z ${ONLY:-} || "${n}w coord-delegated" =~ $ONLY ]]; then
            sql "$c" "$(delegated_sql "$q")" > /dev/null
            DELEGATED+=("$q")
            printf 'SELECT * FROM qcheck_bench_%s(%s);\n' "$q" \
                "$([[ $q == patient_by_mrn ]] && echo ":tenant, :mrn" || echo ":tenant, :provider, :day")" \
                > "$BENCH_DIR/delegated_$q.sql"
            bench_add "$q" "${n}w coord-delegated" "$c" "" "$BENCH_DIR/delegated_$q.sql" \
                "$(query_vars "$q")"
        fi
        bench_variant "$q" "${n}w worker-local" "$worker" ""
        bench_variant "$q" "${n}w worker-nolocal" "$worker" "-c citus.enable_local_execution=off"
    done
done

echo "# $PROFILE scale $SCALE, seed $SEED: pgbench -n -M prepared -c 1, $ROUNDS rounds × ${SECONDS_PER_RUN} s per variant, round-robin; $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench_run "$ROUNDS" "$SECONDS_PER_RUN"
echo "# finished $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench_report
