# Sourced by scripts/test.sh: when may a part of the test run be skipped?
# Only where this machine could not have provided it itself: not under CI, and not as root with
# apt-get (there scripts/provision.sh installs and starts what is missing, so a skip hides a bug).

could_provision() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; }

# skip_or_fail "what is skipped": print it loudly; exit 1 where a skip is not acceptable.
skip_or_fail() {
  echo "!!! $1: SKIPPED"
  if [ "${CI:-}" = "true" ]; then
    echo "!!! CI must run everything: failing"; exit 1
  fi
  if could_provision; then
    echo "!!! this machine runs as root with apt-get, so scripts/provision.sh should have provided it: failing"
    echo "!!! (read the [provision] lines above for what went wrong)"; exit 1
  fi
  return 0
}
