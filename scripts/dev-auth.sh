# dev-auth.sh: the development credentials of `make up` (sourced by up.sh).
#
# `make up` on 127.0.0.1 runs the API with bearer tokens, as production
# does, and stays frictionless: it makes an HS256 secret once
# ($SLUICE_RUN/jwt-secret, 48 random bytes, 0600), exports it to the roles
# as SLUICE_JWT_SECRET_FILE (every role that verifies or signs tokens reads
# it; the others ignore it), has the publishers require a stream token
# (SLUICE_PUBLISHER_REQUIRE_STREAM_TOKEN: the API returns one with each
# channel, and the dashboard and `sluice watch` pass it on), and signs a development token with
# `sluice token` (sub "dev", every market, not admin, valid
# SLUICE_DEV_TOKEN_TTL_S, 7 days by default) into $SLUICE_RUN/dev-token.
# up.sh prints it, and the dashboard's address with #token=<it>, which the
# page keeps and sends as Authorization: Bearer (web/dashboard.mjs).
# An operator's own SLUICE_JWT_SECRET_FILE is used instead of the made one;
# SLUICE_DEV_AUTH=0 runs the API and the streams without tokens, as before
# (loopback only).
# Non-goals: RS256/ES256 keys, revocation, anything beyond one machine
# (docs/security.md says how to issue and rotate real tokens).

# dev_auth_setup: make the secret if needed and export SLUICE_JWT_SECRET_FILE.
dev_auth_setup() {
	[ "${SLUICE_DEV_AUTH:-1}" = 0 ] && return 0
	if [ -z "${SLUICE_JWT_SECRET_FILE:-}" ]; then
		local f=$SLUICE_RUN/jwt-secret
		if [ ! -s "$f" ]; then
			( umask 077; head -c 48 /dev/urandom | base64 -w0 > "$f.tmp" && echo >> "$f.tmp" && mv -f "$f.tmp" "$f" )
		fi
		export SLUICE_JWT_SECRET_FILE=$f
	fi
	export SLUICE_PUBLISHER_REQUIRE_STREAM_TOKEN=${SLUICE_PUBLISHER_REQUIRE_STREAM_TOKEN:-true}
}

# dev_auth_token BIN: sign the development token into $SLUICE_RUN/dev-token
# and print it; prints nothing without a secret (SLUICE_DEV_AUTH=0).
dev_auth_token() {
	[ -n "${SLUICE_JWT_SECRET_FILE:-}" ] || return 0
	local tok
	tok=$("$1" token --jwt-secret-file "$SLUICE_JWT_SECRET_FILE" --sub dev --markets '*' \
		--ttl-s "${SLUICE_DEV_TOKEN_TTL_S:-604800}") || die "sluice token could not sign the development token"
	( umask 077; printf '%s\n' "$tok" > "$SLUICE_RUN/dev-token" )
	printf '%s\n' "$tok"
}
