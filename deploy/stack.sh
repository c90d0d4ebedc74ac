#!/usr/bin/env bash
# labelstream local stack: a real Apache Kafka broker (KRaft, one node, run
# with `java` from Maven Central jars) and a real Redis server. No Docker.
#
#   deploy/stack.sh start  [kafka|redis|all] [--brokers N]   start (harmless when running)
#   deploy/stack.sh stop   [kafka|redis|all]   stop what this script started
#   deploy/stack.sh restart [kafka|redis|all]
#   deploy/stack.sh status
#   deploy/stack.sh env                         print the LABELSTREAM_ exports
#
# --brokers N (3 for a cluster that survives a dead broker) starts N KRaft nodes, each
# broker and controller (static quorum), on this machine: node 1 on the ports below,
# node i on broker port LABELSTREAM_KAFKA_PORT + 2(i-1) and controller port that + 1.
# Topics and the internal topics get replication min(N, 3) and, from 3 brokers on,
# min.insync.replicas 2: a write is acknowledged once two replicas hold it, so one broker
# can die (kill -9) without losing it. The stack directory remembers N: later
# start/stop/restart/status/env need no --brokers, and `start` brings back exactly the
# nodes that are down (after a kill -9 of one broker, say). `env` then lists every
# broker in the bootstrap servers and sets LABELSTREAM_TOPICS__REPLICATION_FACTOR.
#
# Settings (environment):
#   LABELSTREAM_KAFKA_PORT   broker port            (default 9092)
#   LABELSTREAM_KAFKA_CONTROLLER_PORT               (default broker port + 1)
#   LABELSTREAM_REDIS_PORT   Redis port             (default 6379)
#   LABELSTREAM_STACK_DIR    data, logs, pid files  (default <repo>/.stack)
#   LABELSTREAM_KAFKA_HEAP   broker heap            (default 1G)
#   LABELSTREAM_KAFKA_SETTINGS  extra broker settings, space-separated key=value (they win)
#   LABELSTREAM_KAFKA_JVM_OPTS  the broker's JVM options (default -XX:+UseG1GC)
#
# The broker's JVM stays G1 on the 256m..1G heap: no alternative measured lower the p99 (issue 14,
# 2026-12-02 17:50-19:16, `labeler_probe.py latency` interleaved against a second broker, pauses from
# -Xlog:gc,safepoint through bench/gc_pauses.py, a 2-core machine at load 3-17 from other jobs):
# ZGC (pauses < 0.1 ms) gave 1k/s p99 673 vs 275 ms (floor 233 vs 112), median of 4 pairs;
# -Xms1G -XX:+AlwaysPreTouch (a young pause every ~25 s, of 35-130 ms) 140 vs 111 ms (floor 97 vs 66,
# floor p50 33 vs 15 ms) and at 10k/s floor p99 198 vs 136 ms; SerialGC -Xmn32m paused 0.7/s for
# 20-35 ms. The one lead, not yet a clear gain: G1 with a small young generation (-Xmn32m), 5 pairs of
# fresh brokers at 1k/s: pauses 0.5-0.9/s of 15-18 ms (max 28-38) against 0.1/s of 41-58 (max 41-73),
# labeler p99 121 vs 176 ms (lower in 4 pairs of 5), floor p99 69 vs 71 (3 of 5), GC threads +0.02
# cores; one pair at 10k/s: 1.3 pauses/s of 20 ms (max 44) vs 0.2/s of 36 (max 48), labeler p99 172 vs
# 149 ms, floor 71 vs 62. Worth repeating on a quiet machine.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_PORT="${LABELSTREAM_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${LABELSTREAM_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
REDIS_PORT="${LABELSTREAM_REDIS_PORT:-6379}"
STACK_DIR="${LABELSTREAM_STACK_DIR:-$REPO/.stack}"
KAFKA_HEAP="${LABELSTREAM_KAFKA_HEAP:-1G}"
JARS_DIR="$REPO/deploy/kafka/libs"
KAFKA_DIR="$STACK_DIR/kafka"
REDIS_DIR="$STACK_DIR/redis"
LOG_DIR="$STACK_DIR/logs"
BROKERS_FILE="$KAFKA_DIR/brokers"
BROKERS=""  # from --brokers, else what the stack directory remembers, else 1

brokers() {
  if [[ -n "$BROKERS" ]]; then echo "$BROKERS"
  elif [[ -f "$BROKERS_FILE" ]]; then cat "$BROKERS_FILE"
  else echo 1; fi
}
replication() { local n; n="$(brokers)"; echo $(( n < 3 ? n : 3 )); }
min_isr() { if [[ "$(replication)" -ge 3 ]]; then echo 2; else echo 1; fi; }
node_dir() { if [[ "$(brokers)" == 1 ]]; then echo "$KAFKA_DIR"; else echo "$KAFKA_DIR/node$1"; fi; }
node_log() { if [[ "$(brokers)" == 1 ]]; then echo "$LOG_DIR/kafka.log"; else echo "$LOG_DIR/kafka-$1.log"; fi; }
node_name() { if [[ "$(brokers)" == 1 ]]; then echo Kafka; else echo "Kafka node $1"; fi; }
broker_port() { if [[ "$1" == 1 ]]; then echo "$KAFKA_PORT"; else echo $(( KAFKA_PORT + 2 * ($1 - 1) )); fi; }
controller_port() { if [[ "$1" == 1 ]]; then echo "$CONTROLLER_PORT"; else echo $(( KAFKA_PORT + 2 * ($1 - 1) + 1 )); fi; }
bootstrap_servers() {
  local list="" i
  for i in $(seq 1 "$(brokers)"); do list="${list:+$list,}localhost:$(broker_port "$i")"; done
  echo "$list"
}

say() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {  # pid file -> running?
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

python_bin() {
  if [[ -x "$REPO/.venv/bin/python" ]]; then echo "$REPO/.venv/bin/python"; else echo python3; fi
}

# ---------------------------------------------------------------- Kafka ----

fetch_jars() {
  if [[ -f "$JARS_DIR/.complete" ]]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven"
  say "fetching Apache Kafka jars from Maven Central (first start only)..."
  (cd "$REPO/deploy/kafka" && mvn -B -q dependency:copy-dependencies \
     -DoutputDirectory=libs -DincludeScope=runtime) || die "mvn could not fetch the Kafka jars"
  touch "$JARS_DIR/.complete"
}

write_kafka_config() {  # node
  local node="$1" dir n r isr quorum
  dir="$(node_dir "$1")"; n="$(brokers)"; r="$(replication)"; isr="$(min_isr)"
  mkdir -p "$dir/data" "$LOG_DIR"
  if [[ "$n" == 1 ]]; then
    quorum="controller.quorum.bootstrap.servers=localhost:$CONTROLLER_PORT"
  else
    local voters="" i
    for i in $(seq 1 "$n"); do voters="${voters:+$voters,}$i@localhost:$(controller_port "$i")"; done
    quorum="controller.quorum.voters=$voters"
  fi
  cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$node
$quorum
listeners=PLAINTEXT://localhost:$(broker_port "$node"),CONTROLLER://localhost:$(controller_port "$node")
advertised.listeners=PLAINTEXT://localhost:$(broker_port "$node")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
message.max.bytes=2097152
EOF
  # a cluster: replicated topics and internal topics (the last value of a key wins)
  [[ "$n" == 1 ]] || printf '%s
' "default.replication.factor=$r" "min.insync.replicas=$isr"     "offsets.topic.replication.factor=$r" "transaction.state.log.replication.factor=$r"     "transaction.state.log.min.isr=$isr" "share.coordinator.state.topic.replication.factor=$r"     "share.coordinator.state.topic.min.isr=$isr" >> "$dir/server.properties"
  local kv
  for kv in ${LABELSTREAM_KAFKA_SETTINGS:-}; do echo "$kv" >> "$dir/server.properties"; done
}

format_storage() {  # node
  local dir cluster_id
  dir="$(node_dir "$1")"
  if [[ -f "$dir/data/meta.properties" ]]; then return; fi
  if [[ -f "$KAFKA_DIR/cluster-id" ]]; then cluster_id="$(cat "$KAFKA_DIR/cluster-id")"
  else
    # what `StorageTool random-uuid` prints (16 random bytes, base64url), without a JVM start; like Kafka's
    # Uuid.randomUuid, never one that starts with "-" (StorageTool would read it as an option: 1 start in 64 failed)
    cluster_id="$("$(python_bin)" -c 'import base64, uuid
while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(i)')"
    echo "$cluster_id" > "$KAFKA_DIR/cluster-id"
  fi
  say "formatting KRaft storage of $(node_name "$1") (cluster $cluster_id)"
  local quorum_args=(--standalone)
  [[ "$(brokers)" == 1 ]] || quorum_args=()  # a static quorum: controller.quorum.voters names the voters
  java -cp "$JARS_DIR/*" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$dir/server.properties" "${quorum_args[@]}" >>"$LOG_DIR/kafka-format.log" 2>&1 \
    || die "formatting Kafka storage failed; see $LOG_DIR/kafka-format.log"
}

wait_for_broker() {  # port log [brokers]: until the node answers metadata listing every broker of the cluster
  local py; py="$(python_bin)"
  "$py" - "$1" "${3:-1}" <<'EOF' || die "the broker did not answer a metadata request listing all ${3:-1} broker(s); see $2"
import sys, time
port, expected = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 180  # a JVM start on a busy shared machine took 54-90 s here
try:
    from confluent_kafka.admin import AdminClient
except ImportError:  # no venv yet: a TCP connect is the best we can do
    import socket
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(port)), 1).close(); sys.exit(0)
        except OSError:
            time.sleep(0.5)
    sys.exit(1)
admin = AdminClient({"bootstrap.servers": f"localhost:{port}", "log_level": 0})
while time.monotonic() < deadline:
    try:
        md = admin.list_topics(timeout=2)
        # a cluster is usable (replication N topics, a restarted node back in the ISRs) once every broker is in it
        if len(md.brokers) >= expected:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.5)
sys.exit(1)
EOF
}

start_kafka() {
  local n node port t0
  n="$(brokers)"
  if [[ -f "$BROKERS_FILE" && "$(cat "$BROKERS_FILE")" != "$n" ]]; then
    die "$KAFKA_DIR holds a $(cat "$BROKERS_FILE")-broker stack: stop it and remove $KAFKA_DIR, or use another LABELSTREAM_STACK_DIR"
  fi
  if [[ ! -f "$BROKERS_FILE" && "$n" != 1 && -f "$KAFKA_DIR/data/meta.properties" ]]; then
    die "$KAFKA_DIR holds a 1-broker stack: stop it and remove $KAFKA_DIR, or use another LABELSTREAM_STACK_DIR"
  fi
  local down=()
  for node in $(seq 1 "$n"); do
    local pidfile; pidfile="$(node_dir "$node")/kafka.pid"
    if pid_alive "$pidfile"; then say "$(node_name "$node") already running (pid $(cat "$pidfile"), port $(broker_port "$node"))"; continue; fi
    for port in "$(broker_port "$node")" "$(controller_port "$node")"; do
      port_open "$port" && die "port $port is taken by another process; choose another with LABELSTREAM_KAFKA_PORT (and LABELSTREAM_KAFKA_CONTROLLER_PORT)"
    done
    down+=("$node")
  done
  [[ ${#down[@]} == 0 ]] && return
  command -v java >/dev/null || die "Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless"
  fetch_jars
  mkdir -p "$KAFKA_DIR" "$LOG_DIR"
  echo "$n" > "$BROKERS_FILE"
  for node in "${down[@]}"; do write_kafka_config "$node"; done
  format_storage "${down[0]}"  # writes the cluster id the others share
  for node in "${down[@]:1}"; do format_storage "$node" & done  # one JVM each: at once
  wait
  for node in "${down[@]}"; do
    [[ -f "$(node_dir "$node")/data/meta.properties" ]] || die "formatting Kafka storage failed; see $LOG_DIR/kafka-format.log"
  done
  t0=$(date +%s.%N)
  for node in "${down[@]}"; do  # all at once: a multi-node quorum needs a majority up to elect a leader
    local dir; dir="$(node_dir "$node")"
    say "starting $(node_name "$node") on localhost:$(broker_port "$node") (logs: $(node_log "$node"))"
    # shellcheck disable=SC2086  # the JVM options are words
    nohup java "-Xms256m" "-Xmx$KAFKA_HEAP" ${LABELSTREAM_KAFKA_JVM_OPTS:--XX:+UseG1GC} -Djava.awt.headless=true \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      -Dorg.slf4j.simpleLogger.showDateTime=true "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS" \
      -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info \
      -cp "$JARS_DIR/*" kafka.Kafka "$dir/server.properties" \
      >>"$(node_log "$node")" 2>&1 < /dev/null &
    echo $! > "$dir/kafka.pid"
  done
  for node in "${down[@]}"; do wait_for_broker "$(broker_port "$node")" "$(node_log "$node")" "$n"; done
  local what="Kafka is up"; [[ "$n" == 1 ]] || what="Kafka is up ($n brokers, replication $(replication), min.insync.replicas $(min_isr))"
  say "$what ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s)"
}

stop_kafka() {  # every node at once (a clean shutdown of one waits on the others otherwise)
  local node
  for node in $(seq 1 "$(brokers)"); do stop_pid "$(node_name "$node")" "$(node_dir "$node")/kafka.pid" & done
  wait
}

stop_pid() {  # name pidfile
  local name="$1" pidfile="$2"
  if ! pid_alive "$pidfile"; then say "$name is not running"; rm -f "$pidfile"; return; fi
  local pid; pid="$(cat "$pidfile")"
  kill "$pid"
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s; killing"; kill -9 "$pid"; fi
  rm -f "$pidfile"
  say "$name stopped"
}

# ---------------------------------------------------------------- Redis ----

ensure_redis_installed() {
  command -v redis-server >/dev/null || "$REPO/deploy/debian-packages.sh" install redis-server \
    || die "redis-server is not installed and could not be installed"
}

start_redis() {
  local pidfile="$REDIS_DIR/redis.pid"
  if pid_alive "$pidfile"; then say "Redis already running (pid $(cat "$pidfile"), port $REDIS_PORT)"; return; fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process; choose another with LABELSTREAM_REDIS_PORT"
  ensure_redis_installed
  mkdir -p "$REDIS_DIR" "$LOG_DIR"
  # Append-only file: features and model snapshots survive a Redis restart.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --pidfile "$pidfile" --logfile "$LOG_DIR/redis.log" --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec --save "" >/dev/null
  # A restart reloads the append-only file first (PING answers LOADING meanwhile): a big one on a busy
  # machine takes tens of seconds (21 s for 260k keys measured here), so wait up to 2 minutes.
  for _ in $(seq 1 1200); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && { say "Redis is up on localhost:$REDIS_PORT"; return; }
    sleep 0.1
  done
  die "Redis did not answer PING within 2 minutes; see $LOG_DIR/redis.log"
}

# -------------------------------------------------------------- commands ---

print_env() {
  echo "export LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS=$(bootstrap_servers)"
  [[ "$(brokers)" == 1 ]] || echo "export LABELSTREAM_TOPICS__REPLICATION_FACTOR=$(replication)"
  echo "export LABELSTREAM_REDIS__URL=redis://localhost:$REDIS_PORT/0"
}

status() {
  local node
  for node in $(seq 1 "$(brokers)"); do
    local pidfile; pidfile="$(node_dir "$node")/kafka.pid"
    if pid_alive "$pidfile"; then say "$(node_name "$node"): running (pid $(cat "$pidfile"), localhost:$(broker_port "$node"))"
    else say "$(node_name "$node"): stopped"; fi
  done
  if pid_alive "$REDIS_DIR/redis.pid"; then say "Redis: running (pid $(cat "$REDIS_DIR/redis.pid"), localhost:$REDIS_PORT)"; else say "Redis: stopped"; fi
}

cmd="${1:-status}"; shift || true
what=all
while [[ $# -gt 0 ]]; do
  case "$1" in
    --brokers) BROKERS="${2:-}"; shift; shift || true ;;
    --brokers=*) BROKERS="${1#--brokers=}"; shift ;;
    kafka|redis|all) what="$1"; shift ;;
    *) die "unknown service '$1' (kafka, redis or all)";;
  esac
done
if [[ -n "$BROKERS" ]]; then
  [[ "$BROKERS" =~ ^[1-9][0-9]?$ ]] || die "--brokers needs a number of brokers (1, 3, ...)"
fi
case "$cmd" in
  start)
    [[ "$what" != redis ]] && start_kafka
    [[ "$what" != kafka ]] && start_redis
    print_env > "$STACK_DIR/env"
    ;;
  stop)
    [[ "$what" != redis ]] && stop_kafka
    [[ "$what" != kafka ]] && stop_pid Redis "$REDIS_DIR/redis.pid"
    ;;
  restart)
    "$0" stop "$what"; "$0" start "$what" ${BROKERS:+--brokers "$BROKERS"} ;;
  status) status ;;
  env) print_env ;;
  *) die "unknown command '$cmd' (start, stop, restart, status, env)";;
esac
true
