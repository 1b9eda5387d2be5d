# Shared by the measurement scripts in scripts/ (source it): their arguments, qcheck on a topology,
# and round-robin pgbench timing.
#
# Each variant is one query's pgbench script on one server with one PGOPTIONS. bench_run runs every
# variant for SECONDS, ROUNDS times, round-robin, so a variant's figures and their ratios come from
# the same stretch of time on a shared, noisy machine; bench_report prints, per query, the p50 and
# p90 of every transaction (pgbench's per-transaction log) and each p50 against the query's first
# variant. Always one client (`pgbench -n -c 1`), by default `-M prepared`: the statement parsed once and
# then Bind/Execute per transaction, as an application with a connection pool runs it.

# topology_args DEFAULT_HOME DEFAULT_SCALE [QCHECK] [HOME] [PROFILE] [SCALE] [WORKERS...]: sets
# QCHECK, HOME_DIR, PROFILE, SCALE, WORKERS (default 1 2) and SEED (env SEED, default 42).
topology_args() {
    local home=$1 scale=$2
    shift 2
    QCHECK=${1:-target/release/qcheck}
    HOME_DIR=${2:-$home}
    PROFILE=${3:-clinic}
    SCALE=${4:-$scale}
    shift $(($# < 4 ? $# : 4))
    if (($#)); then WORKERS=("$@"); else WORKERS=(1 2); fi
    SEED=${SEED:-42}
}

# qc N ARGS...: qcheck on the single node (N = 0) or on the embedded Citus topology with N workers.
qc() {
    local n=$1
    shift
    if [[ $n -gt 0 ]]; then
        "$QCHECK" --home "$HOME_DIR" --citus-workers "$n" "$@"
    else
        "$QCHECK" --home "$HOME_DIR" "$@"
    fi
}

# sql URL STATEMENT: unaligned, tuples only, fields separated by |.
sql() { psql -X -At -v ON_ERROR_STOP=1 "$1" -c "$2"; }

BENCH_DIR=$(mktemp -d)
trap 'rm -rf "$BENCH_DIR"' EXIT
B_QUERY=() B_LABEL=() B_URL=() B_OPTS=() B_SCRIPT=() B_VARS=() B_MODE=() B_BEFORE=()

# bench_add QUERY LABEL URL PGOPTIONS SCRIPT_FILE [VARIABLES] [MODE]: VARIABLES are `name=value`
# words (values without spaces) the script reads as :name, bound as parameters of the prepared
# statement; MODE is pgbench's query mode, `prepared` unless told (`simple` sends the values as
# literals in the query text, as a Citus coordinator sends a router query to its worker); BEFORE is
# a shell command run before each of the variant's runs (e.g. re-pointing a Citus node).
bench_add() {
    B_QUERY+=("$1") B_LABEL+=("$2") B_URL+=("$3") B_OPTS+=("$4") B_SCRIPT+=("$5") B_VARS+=("${6:-}")
    B_MODE+=("${7:-prepared}") B_BEFORE+=("${8:-}")
}

# bench_run ROUNDS SECONDS
bench_run() {
    local r i v n=${#B_LABEL[@]}
    B_RUN_MS=$(($1 * $2 * 1000))
    for ((r = 1; r <= $1; r++)); do
        for ((i = 0; i < n; i++)); do
            echo "round $r/$1: ${B_QUERY[$i]} ${B_LABEL[$i]}" >&2
            [[ -n ${B_BEFORE[$i]} ]] && eval "${B_BEFORE[$i]}" >&2
            local vars=()
            for v in ${B_VARS[$i]}; do vars+=(-D "$v"); done
            (cd "$BENCH_DIR" && PGOPTIONS="${B_OPTS[$i]}" pgbench -n -M "${B_MODE[$i]}" -c 1 -T "$2" "${vars[@]}" \
                -f "${B_SCRIPT[$i]}" -l --log-prefix="log.$i.$r" "${B_URL[$i]}" \
                > "$BENCH_DIR/out.$i.$r" 2>&1) || {
                cat "$BENCH_DIR/out.$i.$r" >&2
                return 2
            }
        done
    done
}

# bench_report: one Markdown table per query. Besides the log's p50 and p90, the wall time per
# transaction (the variant's running time over its transactions: one client, so each transaction's
# latency plus pgbench's own turn-around) and how many log entries say 0 µs: pgbench 15 logs 0 for
# a transaction whose result was already there when it looked, so for a query of a few tens of µs
# the log's percentiles are biased low and the wall time per transaction is the robust figure.
bench_report() {
    local i q base wbase count zeros p50 p90 wall n=${#B_LABEL[@]} last=""
    for ((i = 0; i < n; i++)); do
        q=${B_QUERY[$i]}
        if [[ $q != "$last" ]]; then
            printf '\n### %s\n\n| variant | transactions | logged 0 µs | p50 ms | p90 ms | p50 ratio | wall ms/transaction | wall ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n' "$q"
            base="" wbase="" last=$q
        fi
        # Field 3 of pgbench's per-transaction log: the transaction's latency in microseconds.
        read -r count zeros p50 p90 <<< "$(cat "$BENCH_DIR"/log."$i".*.* | awk '{print $3}' | sort -n |
            awk '{v[NR] = $1; z += ($1 == 0)} END {printf "%d %d %.4f %.4f\n", NR, z, v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.9) + 1] / 1000}')"
        wall=$(echo "$B_RUN_MS / $count" | bc -l)
        [[ -z $base ]] && base=$p50 wbase=$wall
        printf '| %s | %d | %d | %.3f | %.3f | %.2f× | %.3f | %.2f× |\n' "${B_LABEL[$i]}" "$count" \
            "$zeros" "$p50" "$p90" "$(echo "if ($base > 0) $p50 / $base else 0" | bc -l)" "$wall" \
            "$(echo "$wall / $wbase" | bc -l)"
    done
}
