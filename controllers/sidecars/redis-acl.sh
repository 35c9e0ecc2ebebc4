#!/bin/sh
# The ACL container of the managed Redis pod. Redis reads its users (the
# default user's password hashes) from users.acl, mounted from the ConfigMap
# <name>-redis-config. When the operator rotates the password, the file
# first lists the old and the new password, then only the new one; this
# reloads it into the running server (ACL LOAD) when it changed, so neither
# rotation step restarts Redis or drops its queue or its clients (ACL LOAD
# keeps the connections of the default user). It authenticates with a
# password from the mounted Secret <name>-redis, which the server accepts
# at every step of a rotation.
#
# "check" (the readiness probe) succeeds when the file loaded last is the
# file mounted now.
set -u

acl=${REDIS_ACL_FILE:-/etc/redis/users.acl}
secrets=${REDIS_SECRET_DIR:-/etc/redis-secret}
state=${ACL_STATE:-/var/run/acl/applied}
port=${REDIS_PORT:-6379}
interval=${ACL_POLL_SECONDS:-2}

digest() {
	[ -s "$acl" ] || return 1
	sha256sum <"$acl" | cut -d' ' -f1
}

check() {
	[ -s "$state" ] && [ "$(digest)" = "$(cat "$state")" ]
}

# load asks Redis to reload users.acl, authenticating with each password of
# the Secret in turn; redis-cli reads it from REDISCLI_AUTH, not its
# command line.
load() {
	for f in password fallback-password; do
		[ -s "$secrets/$f" ] || continue
		out=$(REDISCLI_AUTH=$(cat "$secrets/$f") redis-cli -h 127.0.0.1 -p "$port" ACL LOAD 2>&1)
		[ "$out" = OK ] && return 0
	done
	echo "${out:-no password in $secrets}"
	return 1
}

run() {
	trap 'exit 0' TERM INT
	mkdir -p "$(dirname "$state")"
	last_error=""
	while :; do
		if want=$(digest) && [ "$want" != "$(cat "$state" 2>/dev/null)" ]; then
			if err=$(load); then
				printf '%s\n' "$want" >"$state.tmp" && mv "$state.tmp" "$state"
				echo "loaded $acl"
				last_error=""
			elif [ "$err" != "$last_error" ]; then
				echo "cannot load $acl yet: $err" >&2
				last_error=$err
			fi
		fi
		sleep "$interval" &
		wait $!
	done
}

case "${1:-run}" in
run) run ;;
check) check ;;
*)
	echo "usage: $0 [run|check]" >&2
	exit 2
	;;
esac
