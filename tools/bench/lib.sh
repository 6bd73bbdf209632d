# Helpers shared by the benchmark scripts (sourced, from the repository's root folder).

# What is measured is what the sources are now: the commit, and whether the server's sources
# differ from it. Called before the build is brought up to date.
build_note() {
  local note
  note="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -n $(git status --porcelain --untracked-files=normal -- core sdk plugins CMakeLists.txt 2>/dev/null) ]] &&
    note+=" with uncommitted changes under core/, sdk/ or plugins/"
  echo "$note"
}

cpu_busy() {  # percentage of the machine's CPU time used over 2 seconds, by anything
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  sleep 2
  b=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2];
    printf "%.0f", busy * 100 / (busy + idle + (busy + idle == 0))}'
}

# Other work on the machine skews every number: wait_idle waits (at most IDLE_WAIT seconds) for
# the machine to be quiet; when it is not, it says so and IDLE_NOTE keeps a warning.
IDLE_WAIT=${BENCH_IDLE_WAIT:-180}
IDLE_NOTE=""
wait_idle() {
  local busy waited=0
  busy=$(cpu_busy)
  while (( busy > 15 && waited < IDLE_WAIT )); do
    (( waited == 0 )) && echo "  the machine is busy ($busy% CPU in use); waiting up to ${IDLE_WAIT}s for it to be quiet"
    sleep 8
    waited=$((waited + 10))
    busy=$(cpu_busy)
  done
  if (( busy > 15 )); then
    echo "  WARNING: other processes use $busy% of the CPU; the next numbers are skewed"
    IDLE_NOTE="WARNING: other processes used $busy% of the CPU just before a measurement; these numbers are skewed."
  fi
}

ms() { awk -v us="$1" 'BEGIN{printf "%.2f ms", us / 1000}'; }  # microseconds, as milliseconds

# replace_doc_section TITLE FILE: puts FILE (a "## TITLE" section) in docs/benchmarks.md in place
# of the section of that title, or at the end; the other sections stay as they are.
replace_doc_section() {
  local title=$1 section=$2 doc=docs/benchmarks.md
  if [[ ! -f $doc ]]; then
    printf '# Benchmarks\n\nEach section is written by the script it names; rerun it to refresh the numbers.\n\n' >"$doc"
  fi
  awk -v section="$section" -v title="## $title" '
    function emit() { while ((getline line < section) > 0) print line; close(section); print ""; done = 1 }
    /^## / { if (skipping) skipping = 0; if ($0 == title) { emit(); skipping = 1; next } }
    !skipping { print }
    END { if (!done) { print ""; emit() } }
  ' "$doc" | cat -s >"$doc.tmp"
  sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$doc.tmp" >"$doc"  # no trailing blank lines
  rm -f "$doc.tmp"
  echo
  echo "Updated $doc"
}
