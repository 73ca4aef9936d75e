# shellcheck shell=bash
# deploy/local/lib/deps.sh -- system packages and the Kafka broker jars.
#
# Installs only what is missing, so a second run neither needs the network nor takes time:
# Debian packages are checked with dpkg-query, and the Kafka jars (resolved from Maven Central
# by deploy/local/kafka/pom.xml) are fetched once into .local/cache/kafka-<version>/libs, with a
# marker holding the pom's checksum so an edited pom refreshes them.

APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config
    librdkafka-dev libjansson-dev libzstd-dev libssl-dev libpq-dev
    postgresql-15 openjdk-17-jre-headless maven python3 clang-format
)

KAFKA_POM="$ROOT/deploy/local/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\([^<]*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -n 1)
[[ -n $KAFKA_VERSION ]] || die "cannot read <kafka.version> from $KAFKA_POM"
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_MARKER="$KAFKA_HOME/.complete"

deps_missing_packages() {
    local installed
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null |
        awk '$2 == "installed" { print $1 }' || true)
    local p
    for p in "${APT_PACKAGES[@]}"; do
        grep -qxF -- "$p" <<<"$installed" || printf '%s\n' "$p"
    done
}

deps_install_packages() {
    local missing
    mapfile -t missing < <(deps_missing_packages)
    ((${#missing[@]} == 0)) && return 0
    msg "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >"$LOG_DIR/apt.log" 2>&1 ||
        { log_tail "$LOG_DIR/apt.log"; die "apt-get update failed (see $LOG_DIR/apt.log)"; }
    apt-get install -y -q "${APT_PACKAGES[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
        { log_tail "$LOG_DIR/apt.log"; die "apt-get install failed (see $LOG_DIR/apt.log)"; }
    mapfile -t missing < <(deps_missing_packages)
    ((${#missing[@]} == 0)) || die "packages still missing after apt-get install: ${missing[*]}"
}

deps_kafka_libs_complete() {
    [[ -f $KAFKA_MARKER && -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] || return 1
    [[ $(cat -- "$KAFKA_MARKER") == "$(sha256sum <"$KAFKA_POM" | cut -d' ' -f1)" ]]
}

deps_fetch_kafka() {
    deps_kafka_libs_complete && return 0
    msg "fetching Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
    rm -rf -- "$KAFKA_LIBS" "$KAFKA_MARKER"
    mkdir -p "$KAFKA_HOME"
    local log="$LOG_DIR/maven.log"
    mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
        -DoutputDirectory="$KAFKA_LIBS" -DincludeScope=runtime >"$log" 2>&1 ||
        { log_tail "$log"; die "maven could not fetch the Kafka jars (see $log)"; }
    [[ -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] ||
        die "maven finished but $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar is missing"
    sha256sum <"$KAFKA_POM" | cut -d' ' -f1 >"$KAFKA_MARKER"
    msg "fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars"
}

deps_ensure() {
    deps_install_packages
    deps_fetch_kafka
}
