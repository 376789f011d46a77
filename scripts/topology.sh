# topology.sh: which sluice roles `make up` runs, on which ports (sourced
# by up.sh, status.sh and down.sh).
#
# Two shapes. The default (single node): api, two reducers, the publisher,
# the REST proxy and the feed. CLUSTER=1 (`up.sh --cluster`): two api
# instances, three reducers, two publishers, the REST proxy and the feed,
# against three brokers and Redis with a replica and Sentinels
# (scripts/stack.sh --brokers 3 --redis-ha). The shape chosen by the first
# `up` is kept in .state/run/shape until `make down`, so a later `make up`
# converges to it. Every port comes from the environment with the defaults
# of SPEC section 4 (SLUICE_API_PORT, SLUICE_API2_PORT, SLUICE_PUBLISHER_PORT,
# SLUICE_PUBLISHER2_PORT, SLUICE_RESTPROXY_PORT, SLUICE_REDUCER{1,2,3}_PORT,
# SLUICE_FEED_PORT).

SLUICE_RUN=${SLUICE_RUN:-$SLUICE_STATE/run}

# topology SHAPE: one line per instance: "name port role".
topology() {
	local api=${SLUICE_API_PORT:-8080} pub=${SLUICE_PUBLISHER_PORT:-8090}
	echo "api ${api} api"
	[ "$1" = cluster ] && echo "api-2 ${SLUICE_API2_PORT:-8081} api"
	echo "reducer-1 ${SLUICE_REDUCER1_PORT:-8091} reducer"
	echo "reducer-2 ${SLUICE_REDUCER2_PORT:-8092} reducer"
	[ "$1" = cluster ] && echo "reducer-3 ${SLUICE_REDUCER3_PORT:-8094} reducer"
	echo "publisher ${pub} publisher"
	[ "$1" = cluster ] && echo "publisher-2 ${SLUICE_PUBLISHER2_PORT:-8095} publisher"
	echo "rest-proxy ${SLUICE_RESTPROXY_PORT:-8082} rest-proxy"
	echo "feed ${SLUICE_FEED_PORT:-8093} feed"
}

# The shape of the running system (or of the request when none runs).
current_shape() {
	if [ -f "$SLUICE_RUN/shape" ]; then cat "$SLUICE_RUN/shape"; else echo "${1:-single}"; fi
}

# The stack directory of a shape: the cluster keeps its data apart.
# SLUICE_UP_STACK_DIR overrides both (tests run the system on their stack).
stack_dir_of() {
	if [ -n "${SLUICE_UP_STACK_DIR:-}" ]; then echo "$SLUICE_UP_STACK_DIR"
	elif [ "$1" = cluster ]; then echo "$SLUICE_STATE/cluster"; else echo "$SLUICE_STATE/stack"; fi
}
