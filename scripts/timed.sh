#!/usr/bin/env bash
# Run make targets one after another, then print how long each took (also when one fails).
#   bash scripts/timed.sh lint typecheck unit notebooks release-check
set -uo pipefail
names=() secs=() status=0
for target in "$@"; do
    start=$(date +%s)
    make --no-print-directory "$target"
    rc=$?
    names+=("$target") secs+=($(( $(date +%s) - start )))
    if [ "$rc" -ne 0 ]; then status=$rc; break; fi
done
total=0
echo
echo "phase            seconds"
for i in "${!names[@]}"; do
    printf '%-16s %7d\n' "${names[$i]}" "${secs[$i]}"
    total=$(( total + secs[i] ))
done
printf '%-16s %7d  (%dm%02ds)\n' "total" "$total" $(( total / 60 )) $(( total % 60 ))
[ "$status" -eq 0 ] || echo "stopped at '${names[-1]}' (exit $status)"
exit "$status"
