#!/usr/bin/env bash
# labelstream local stack: a real Apache Kafka broker (KRaft, one node, run
# with `java` from Maven Central jars) and a real Redis server. No Docker.
#
#   deploy/stack.sh start  [kafka|redis|all]   start (harmless when running)
#   deploy/stack.sh stop   [kafka|redis|all]   stop what this script started
#   deploy/stack.sh restart [kafka|redis|all]
#   deploy/stack.sh status
#   deploy/stack.sh env                         print the LABELSTREAM_ exports
#
# Settings (environment):
#   LABELSTREAM_KAFKA_PORT   broker port            (default 9092)
#   LABELSTREAM_KAFKA_CONTROLLER_PORT               (default broker port + 1)
#   LABELSTREAM_REDIS_PORT   Redis port             (default 6379)
#   LABELSTREAM_STACK_DIR    data, logs, pid files  (default <repo>/.stack)
#   LABELSTREAM_KAFKA_HEAP   broker heap            (default 1G)
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

write_kafka_config() {
  mkdir -p "$KAFKA_DIR/data" "$LOG_DIR"
  cat > "$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$CONTROLLER_PORT
listeners=PLAINTEXT://localhost:$KAFKA_PORT,CONTROLLER://localhost:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://localhost:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
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
}

format_storage() {
  if [[ -f "$KAFKA_DIR/data/meta.properties" ]]; then return; fi
  local cluster_id
  cluster_id="$(java -cp "$JARS_DIR/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  say "formatting KRaft storage (cluster $cluster_id)"
  java -cp "$JARS_DIR/*" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$KAFKA_DIR/server.properties" --standalone >>"$LOG_DIR/kafka-format.log" 2>&1 \
    || die "formatting Kafka storage failed; see $LOG_DIR/kafka-format.log"
}

wait_for_broker() {
  local py; py="$(python_bin)"
  "$py" - "$KAFKA_PORT" <<'EOF' || die "the broker did not answer a metadata request; see $LOG_DIR/kafka.log"
import sys, time
port = sys.argv[1]
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
        if md.brokers:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.5)
sys.exit(1)
EOF
}

start_kafka() {
  local pidfile="$KAFKA_DIR/kafka.pid"
  if pid_alive "$pidfile"; then say "Kafka already running (pid $(cat "$pidfile"), port $KAFKA_PORT)"; return; fi
  for port in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
    port_open "$port" && die "port $port is taken by another process; choose another with LABELSTREAM_KAFKA_PORT (and LABELSTREAM_KAFKA_CONTROLLER_PORT)"
  done
  command -v java >/dev/null || die "Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless"
  fetch_jars
  write_kafka_config
  format_storage
  local started; started=$(date +%s.%N)
  say "starting Kafka on localhost:$KAFKA_PORT (logs: $LOG_DIR/kafka.log)"
  nohup java "-Xms256m" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info \
    -cp "$JARS_DIR/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >>"$LOG_DIR/kafka.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  wait_for_broker
  say "Kafka is up ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $started}") s)"
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
  echo "export LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS=localhost:$KAFKA_PORT"
  echo "export LABELSTREAM_REDIS__URL=redis://localhost:$REDIS_PORT/0"
}

status() {
  if pid_alive "$KAFKA_DIR/kafka.pid"; then say "Kafka: running (pid $(cat "$KAFKA_DIR/kafka.pid"), localhost:$KAFKA_PORT)"; else say "Kafka: stopped"; fi
  if pid_alive "$REDIS_DIR/redis.pid"; then say "Redis: running (pid $(cat "$REDIS_DIR/redis.pid"), localhost:$REDIS_PORT)"; else say "Redis: stopped"; fi
}

cmd="${1:-status}"; what="${2:-all}"
case "$what" in kafka|redis|all) ;; *) die "unknown service '$what' (kafka, redis or all)";; esac
case "$cmd" in
  start)
    [[ "$what" != redis ]] && start_kafka
    [[ "$what" != kafka ]] && start_redis
    print_env > "$STACK_DIR/env"
    ;;
  stop)
    [[ "$what" != redis ]] && stop_pid Kafka "$KAFKA_DIR/kafka.pid"
    [[ "$what" != kafka ]] && stop_pid Redis "$REDIS_DIR/redis.pid"
    ;;
  restart)
    "$0" stop "$what"; "$0" start "$what" ;;
  status) status ;;
  env) print_env ;;
  *) die "unknown command '$cmd' (start, stop, restart, status, env)";;
esac
true
