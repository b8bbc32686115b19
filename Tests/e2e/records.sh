# Sourced by guest.sh (in the guest, in its work directory, with its helpers, $SBX,
# $P and the hijack argument $arg): issue 15, item 4, records that are never lost.
# Three concurrent `sbx run`s: flood in log mode (a violation per raw getppid, far
# beyond its rate limit), and two hijacks that are killed meanwhile. Each policy has
# its own queue and rate limit: both kills must be reported (status 100 with the
# report), and only the flooding policy drops records. With one global ring and
# rate limit (ABI 3) the kills were lost to the flood: status 137, no report.

# --- records: one queue and one rate limit per policy ------------------------------------
rm -f stop-flood go-rec
"$SBX" run --action log --json-report flood.json -- "$P/flood" stop-flood >flood.out 2>flood.err &
fpid=$!
wait_for flood.out flooding
# A fourth, quiet program in kill mode: its policy is listed by sbx status meanwhile.
feed go-rec | "$SBX" run -- "$P/waiter" >rwait.out 2>&1 &
rwpid=$!
wait_for rwait.out waiting
"$SBX" run --json-report k1.json -- "$P/hijack" "$arg" >k1.out 2>k1.err &
k1=$!
"$SBX" run --json-report k2.json -- "$P/hijack" "$arg" >k2.out 2>k2.err &
k2=$!
bounded_wait $k1; st1=$?
bounded_wait $k2; st2=$?
"$SBX" status >rst.txt 2>&1
touch stop-flood go-rec
bounded_wait $fpid; stf=$?
bounded_wait $rwpid; stw=$?
last=flood.err; tail -n 3 flood.err | sed 's/^/# /'
check "records: the flood ran in log mode through the kills (status $stf)" \
    '[ $stf = 0 ] && has flood.out "^done" && has flood.err "audit: "'
last=k1.err; show k1.err
check "records: the first hijack, killed meanwhile, is reported by its sbx run (status $st1)" \
    '[ $st1 = 100 ] && has k1.err "refused:  call of libc function fprintf()" && has k1.json "\"killed_by_monitor\" : true"'
last=k2.err
check "records: the second hijack too (status $st2)" \
    '[ $st2 = 100 ] && has k2.err "refused:  call of libc function fprintf()" && has k2.json "\"killed_by_monitor\" : true"'
last=flood.json
check "records: the flooding policy dropped records, the killed runs' policies none" \
    'grep -Eq "\"records_dropped\" : [1-9]" flood.json && has k1.json "\"records_dropped\" : 0" && has k2.json "\"records_dropped\" : 0"'
check "records: sbx run says that records of the flood were dropped" 'has flood.err "dropped (the policy.s queue was full or over its rate limit)"'
last=rst.txt; show rst.txt
# The policy rows: the flooding one (the most violations) has drops, the waiter's none.
check "records: sbx status lists each policy's drops: the flood's > 0, the waiter's 0" \
    'has rst.txt "^POLICY  MODE  USERS  VIOLATIONS  WAITING  KILLS  DROPPED  RATE-LIMITED" && awk '\''/^POLICY/ { t = 1; next } t && /^$/ { exit } t && NF == 8 { n++; if ($4 > 1000 && $7 > 0 && $8 > 0) flood++; if ($4 == 0 && $7 == 0) quiet++ } END { exit !(flood == 1 && quiet >= 1) }'\'' rst.txt'
check "records: the waiter ends normally (status $stw)" '[ $stw = 0 ] && has rwait.out "got hi"'
"$SBX" status >rst2.txt 2>&1
check "records: afterwards nothing is left loaded" 'has rst2.txt "policies: 0 loaded"'
