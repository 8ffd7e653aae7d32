#!/usr/bin/env bash
# A fake command for the e2e script tests: `e2e-fake.sh <command> <args...>`, installed on PATH as
# kubectl, curl, pulumi, k3d, ... by test/helpers/e2e-fakes.ts. Bash only (no process per call
# beyond this one), so polling scripts run at full speed. Rules are folders written by the test:
#   $FAKE_DIR/rules/NNN/{cmd,match}            the command, and an ERE searched in the call's key
#   $FAKE_DIR/rules/NNN/responses/K/{status,code,stderr,body,exec}
# The first rule (by NNN) whose cmd is this command and whose match finds the key answers; its
# responses are served in turn, the last one repeating. The key is the argv joined by spaces, except
# for curl: "METHOD URL" plus " host=<Host header>", " user=<basic auth user>" and " bearer".
# Every call is appended to $FAKE_DIR/calls.log (fields separated by \x1f, data base64-encoded).
set -uo pipefail
cmd="$1"
shift
argv=("$@")
US=$'\x1f'

urlencode() {
  local LC_ALL=C s="$1" out="" c i
  for (( i = 0; i < ${#s}; i++ )); do
    c="${s:i:1}"
    case "$c" in [A-Za-z0-9.~_-]) out+="$c" ;; *) printf -v c '%%%02X' "'$c"; out+="$c" ;; esac
  done
  printf '%s' "$out"
}

out="" write="" fail=0 get=0 method="" url="" user="" host="" bearer=0
data=() query=()
header() {
  case "${1,,}" in
    host:*) host="${1#*:}"; host="${host# }" ;;
    authorization:\ bearer\ *) bearer=1 ;;
  esac
}
if [ "$cmd" = curl ]; then
  while [ $# -gt 0 ]; do
    a="$1"
    shift
    case "$a" in
      -o|--output) out="$1"; shift ;;
      -w|--write-out) write="$1"; shift ;;
      -X|--request) method="$1"; shift ;;
      -H|--header) header "$1"; shift ;;
      -u|--user) user="${1%%:*}"; shift ;;
      --data-urlencode) query+=("$1"); shift ;;
      -d|--data|--data-binary|--data-raw)
        v="$1"; shift
        if [[ "$v" == @* ]]; then f="${v#@}"; if [ "$f" = - ]; then v="$(cat)"; else v="$(cat "$f")"; fi; fi
        data+=("$v") ;;
      -K|--config)
        while IFS= read -r line; do
          if [[ "$line" =~ ^[[:space:]]*(user|header)[[:space:]]*=[[:space:]]*\"(.*)\"[[:space:]]*$ ]]; then
            kind="${BASH_REMATCH[1]}"
            v="$(printf '%s' "${BASH_REMATCH[2]}" | sed -E 's/\\(.)/\1/g')"
            if [ "$kind" = user ]; then user="${v%%:*}"; else header "$v"; fi
          fi
        done < "$1"
        shift ;;
      --connect-timeout|--max-time|-m|--retry|--retry-delay|-A|--resolve|--connect-to|--cacert) shift ;;
      --fail) fail=1 ;;
      --get) get=1 ;;
      -*) if [[ "$a" =~ ^-[A-Za-z]+$ ]]; then [[ "$a" == *f* ]] && fail=1; [[ "$a" == *G* ]] && get=1; fi ;;
      *) url="$a" ;;
    esac
  done
  if [ "$get" = 1 ] && [ "${#query[@]}" -gt 0 ]; then
    q=""
    for kv in "${query[@]}"; do q+="${q:+&}${kv%%=*}=$(urlencode "${kv#*=}")"; done
    if [[ "$url" == *\?* ]]; then url+="&$q"; else url+="?$q"; fi
  fi
  if [ -z "$method" ]; then if [ "${#data[@]}" -gt 0 ] && [ "$get" = 0 ]; then method=POST; else method=GET; fi; fi
  key="$method $url${host:+ host=$host}${user:+ user=$user}"
  [ "$bearer" = 1 ] && key+=" bearer"
else
  key="$*"
fi

rule=""
for d in "$FAKE_DIR"/rules/*/; do
  [ -d "$d" ] || continue
  [ "$(< "$d/cmd")" = "$cmd" ] || continue
  re="$(< "$d/match")"
  if [[ "$key" =~ $re ]]; then rule="${d%/}"; break; fi
done

encoded=""
for v in ${data[@]+"${data[@]}"}; do encoded+="${encoded:+,}$(printf '%s' "$v" | base64 -w0)"; done
{
  printf '%s%s%s%s%s%s%s' "$cmd" "$US" "${rule##*/}" "$US" "$key" "$US" "$encoded"
  for a in ${argv[@]+"${argv[@]}"}; do printf '%s%s' "$US" "${a//$'\n'/\\n}"; done
  printf '\n'
} >> "$FAKE_DIR/calls.log"

if [ -z "$rule" ]; then
  if [ "$cmd" = curl ]; then
    [ -n "$write" ] && printf '%s' "${write//%\{http_code\}/000}"
    printf 'curl: (7) fake: no rule for %s\n' "$key" >&2
    exit 7
  fi
  printf 'fake %s: no rule for: %s\n' "$cmd" "$key" >&2
  exit 1
fi

printf x >> "$rule/count"
n="$(< "$rule/count")"
n="${#n}"
responses=("$rule"/responses/*)
total="${#responses[@]}"
[ "$n" -le "$total" ] || n="$total"
r="$rule/responses/$n"

body() {
  if [ -f "$r/exec" ]; then bash -c "$(< "$r/exec")"; elif [ -f "$r/body" ]; then cat "$r/body"; fi
}

if [ "$cmd" = curl ]; then
  status=200
  [ -f "$r/status" ] && status="$(< "$r/status")"
  if [ "$status" = 0 ]; then
    [ -n "$write" ] && printf '%s' "${write//%\{http_code\}/000}"
    exit 7
  fi
  if [ -n "$out" ]; then body > "$out"; else body; fi
  [ -n "$write" ] && printf '%s' "${write//%\{http_code\}/$status}"
  if [ "$fail" = 1 ] && [ "$status" -ge 400 ]; then exit 22; fi
  exit 0
fi
[ -f "$r/stderr" ] && printf '%s' "$(< "$r/stderr")" >&2
body
code=0
[ -f "$r/code" ] && code="$(< "$r/code")"
exit "$code"
