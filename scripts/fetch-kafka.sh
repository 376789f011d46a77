#!/usr/bin/env bash
# fetch-kafka.sh: put Apache Kafka's broker and tool jars in $KAFKA_LIBS.
#
# Resolves org.apache.kafka:kafka_2.13 and kafka-tools (plus an slf4j binding)
# with Maven, copies the closure (about 105 jars) into the state directory and
# marks it complete, so a second run is a no-op. Called by install-deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ -f "$KAFKA_LIBS/.complete" ] && exit 0
say "fetching Apache Kafka $KAFKA_VERSION jars (about 56 MB, once)"
tmp="$KAFKA_LIBS.tmp"
rm -rf "$tmp"; mkdir -p "$tmp"
mvn -q -B -f "$here/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
	dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime \
	|| die "maven could not resolve Kafka $KAFKA_VERSION (see output above)"
n=$(ls "$tmp"/*.jar | wc -l)
[ "$n" -gt 50 ] || die "only $n Kafka jars resolved; expected about 105"
# A log4j config so the broker and tools log to files, not to our terminal.
cat > "$tmp/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
L4J
rm -rf "$KAFKA_LIBS"; mv "$tmp" "$KAFKA_LIBS"
touch "$KAFKA_LIBS/.complete"
say "Kafka jars: $n in $KAFKA_LIBS"
