#!/usr/bin/env bash
# fetch-kafka.sh: put Apache Kafka's broker and tool jars in $KAFKA_LIBS.
#
# Resolves org.apache.kafka:kafka_2.13 and kafka-tools (plus an slf4j binding)
# with Maven, copies the closure (about 105 jars) into the state directory and
# marks it complete, so a second run is a no-op. Called by install-deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

write_log4j() { # dir: the broker logs at INFO, Kafka's own tools only warnings
	cat > "$1/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
	sed 's/^log4j.rootLogger=INFO/log4j.rootLogger=WARN/' "$1/log4j.properties" > "$1/tools-log4j.properties"
}

if [ -f "$KAFKA_LIBS/.complete" ]; then
	[ -f "$KAFKA_LIBS/tools-log4j.properties" ] || write_log4j "$KAFKA_LIBS"
	exit 0
fi
say "fetching Apache Kafka $KAFKA_VERSION jars (about 56 MB, once)"
tmp="$KAFKA_LIBS.tmp"
rm -rf "$tmp"; mkdir -p "$tmp"
mvn -q -B -Dstyle.color=never -f "$here/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
	dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime \
	|| die "maven could not resolve Kafka $KAFKA_VERSION (see output above)"
n=$(ls "$tmp"/*.jar | wc -l)
[ "$n" -gt 50 ] || die "only $n Kafka jars resolved; expected about 105"
write_log4j "$tmp"
rm -rf "$KAFKA_LIBS"; mv "$tmp" "$KAFKA_LIBS"
touch "$KAFKA_LIBS/.complete"
say "Kafka jars: $n in $KAFKA_LIBS"
