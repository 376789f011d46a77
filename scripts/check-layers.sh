#!/usr/bin/env bash
# check-layers.sh: `make check`: includes point down only (STYLE section 1):
# roles -> proto|kafka|redis|auth -> loop -> core; core includes no sluice
# layer above it, loop (libuv around a role's loop: signals, lifetime) only
# core, auth (tokens, credentials, ACLs: OpenSSL, no I/O loop) only core,
# and roles never include each other's headers (only roles/roles.h and
# their own folder's).
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
report() { echo "layering: $1"; bad=1; }
while IFS= read -r hit; do report "$hit (core must not include loop, auth, proto, kafka, redis or roles)"; done \
	< <(grep -HnE '#include "(loop|auth|proto|kafka|redis|roles)/' src/core/*.[ch] 2>/dev/null)
while IFS= read -r hit; do report "$hit (auth may include core only)"; done \
	< <(grep -HnE '#include "(loop|proto|kafka|redis|roles)/' src/auth/*.[ch] 2>/dev/null)
while IFS= read -r hit; do report "$hit (loop may include core only)"; done \
	< <(grep -HnE '#include "(proto|kafka|redis|roles)/' src/loop/*.[ch] 2>/dev/null)
while IFS= read -r hit; do report "$hit (lower layers must not include roles)"; done \
	< <(grep -HnE '#include "roles/' src/loop/*.[ch] src/auth/*.[ch] src/proto/*.[ch] src/kafka/*.[ch] src/redis/*.[ch] 2>/dev/null)
# A role in a folder (src/roles/<role>/) may include its own folder's
# headers; a single-file role only roles/roles.h.
for f in src/roles/*.[ch] src/roles/*/*.[ch]; do
	[ -f "$f" ] || continue
	dir=$(dirname "$f"); own=${dir#src/}/
	while IFS= read -r inc; do
		[ "$inc" = roles/roles.h ] && continue
		[ "$dir" != src/roles ] && [ "${inc#"$own"}" != "$inc" ] && continue
		report "$f includes $inc (roles never include each other)"
	done < <(grep -oE '#include "roles/[^"]+"' "$f" | sed 's/#include "//; s/"$//')
done
[ $bad = 0 ] && echo "layering: ok"
exit $bad
