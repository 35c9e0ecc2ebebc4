#!/bin/sh
# The credentials container of the managed PostgreSQL pod. PostgreSQL reads
# POSTGRES_PASSWORD only when it initialises its data directory; this keeps
# the roles' passwords equal to the mounted Secret afterwards. Every few
# seconds it compares the Secret's files with what it applied last and, when
# they differ, sets both passwords over the local Unix socket. The official
# image's entrypoint runs initdb without --auth, so pg_hba.conf starts with
# "local all all trust" (and host 127.0.0.1/32 and ::1/128 trust), and only
# appends "host all all all scram-sha-256" for connections from elsewhere:
# a process in the pod reaches the socket as the superuser without a
# password, so even a lost superuser password can be replaced.
#
# "check" (the readiness probe) succeeds when the passwords applied are
# those the files hold now. Values go to psql through backquoted reads of
# the files: never on a command line, in the environment or in a log.
set -u

dir=${CREDENTIALS_DIR:-/etc/postgres-credentials}
state=${CREDENTIALS_STATE:-/var/run/credentials/applied}
socket=${PGSOCKET_DIR:-/var/run/postgresql}
port=${PGPORT:-5432}
superuser=${POSTGRES_SUPERUSER:-postgres}
app_user=${APP_DB_USER:-contract_lucidity}
interval=${CREDENTIALS_POLL_SECONDS:-2}

# digest of the current files; fails when one is missing or empty.
digest() {
	[ -s "$dir/superuser-password" ] && [ -s "$dir/password" ] || return 1
	cat "$dir/superuser-password" "$dir/password" | sha256sum | cut -d' ' -f1
}

check() {
	[ -s "$state" ] && [ "$(digest)" = "$(cat "$state")" ]
}

# apply sets the passwords. The statement is kept out of the server log
# (a failing one is logged with its text otherwise).
apply() {
	PGCONNECT_TIMEOUT=5 psql -X -q -w -v ON_ERROR_STOP=1 -h "$socket" -p "$port" -U "$superuser" -d postgres \
		-v VERBOSITY=terse -v SHOW_CONTEXT=never -v superuser="$superuser" -v app_user="$app_user" <<SQL
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;
\\set su \`cat '$dir/superuser-password'\`
\\set app \`cat '$dir/password'\`
ALTER ROLE :"superuser" PASSWORD :'su';
ALTER ROLE :"app_user" PASSWORD :'app';
SQL
}

run() {
	trap 'exit 0' TERM INT
	mkdir -p "$(dirname "$state")"
	last_error=""
	while :; do
		if want=$(digest); then
			if [ "$want" != "$(cat "$state" 2>/dev/null)" ]; then
				if err=$(apply 2>&1); then
					printf '%s\n' "$want" >"$state.tmp" && mv "$state.tmp" "$state"
					echo "applied the passwords of roles $superuser and $app_user from $dir"
					last_error=""
				elif [ "$err" != "$last_error" ]; then
					# PostgreSQL may still be starting (or initialising: the
					# application role does not exist yet); retried.
					echo "cannot apply the passwords yet: $err" >&2
					last_error=$err
				fi
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
