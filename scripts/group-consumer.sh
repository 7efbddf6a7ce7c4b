#!/bin/sh
# group-consumer.sh — a consumer group member written with curl and jq only.
#
#   scripts/group-consumer.sh http://127.0.0.1:8080 billing orders
#
# Joins GROUP for TOPIC, then loops: long-poll the member fetch, "process"
# the records (here: print each as one JSON line on stdout), commit the
# positions the fetch returned. 409 REBALANCE_IN_PROGRESS: rejoin with the
# same member id (the join waits until the group is stable again). 404
# UNKNOWN_MEMBER (expired): join anew. Ctrl-C / SIGTERM leaves the group,
# so the others take over its partitions at once. Every member call counts
# as a heartbeat, so a loop that fetches more often than
# SESSION_TIMEOUT_MS needs no separate heartbeat.
set -u
B=${1:?usage: group-consumer.sh BROKER_URL GROUP TOPIC}
G=${2:?usage: group-consumer.sh BROKER_URL GROUP TOPIC}
T=${3:?usage: group-consumer.sh BROKER_URL GROUP TOPIC}
SESSION_TIMEOUT_MS=${SESSION_TIMEOUT_MS:-10000}
JSON='Content-Type: application/json'
M=""
tmp=$(mktemp) || exit 1

leave() {
	[ -n "$M" ] && curl -s -o /dev/null -X DELETE "$B/v1/groups/$G/members/$M"
	rm -f "$tmp"
	exit 0
}
trap leave INT TERM

# join [member_id]: prints the member id, or nothing when the join failed
join() {
	curl -s -X POST "$B/v1/groups/$G/members" -H "$JSON" \
	     -d "{\"topics\":[\"$T\"],\"auto_offset_reset\":\"earliest\",\"session_timeout_ms\":$SESSION_TIMEOUT_MS${1:+,\"member_id\":\"$1\"}}" |
	jq -r '.member_id // empty'
}

while :; do
	[ -n "$M" ] || M=$(join) || M=""
	[ -n "$M" ] || { sleep 1; continue; }
	code=$(curl -s -o "$tmp" -w '%{http_code}' \
	            "$B/v1/groups/$G/members/$M/records?max_wait_ms=5000&max_records=100")
	case $code in
	200)
		jq -c '.records[]' "$tmp"                       # process the records
		jq -c '{member_id, generation, offsets}' "$tmp" |  # then commit
		curl -s -o /dev/null -X POST "$B/v1/groups/$G/offsets" -H "$JSON" -d @- ;;
	409) M=$(join "$M") ;;                              # rebalance: rejoin
	404) M="" ;;                                        # expired: join anew
	*)   sleep 1 ;;
	esac
done
