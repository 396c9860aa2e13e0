# Shell helpers shared by scripts/bench.sh and scripts/bench-events.sh (sourced).

# wait_for PORT: until a server answers on 127.0.0.1:PORT (30 s at most).
wait_for() {
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; exit 1
}

# schema_url URL NAME: URL with search_path set to schema NAME.
schema_url() {
  local sep='?'
  [[ "$1" == *\?* ]] && sep='&'
  echo "${1}${sep}options=-csearch_path%3D$2"
}
