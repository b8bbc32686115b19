# Sourced by guest.sh: buffered events (issue 19, specs/kernel-abi.md "Buffered
# events"): programs built with dyck-cc --dyck-buffer run under sbx run in both modes
# with the output, errors and status of their plain runs (no false positive), and
# make fewer markers than their synchronous builds: the buffered events reach the
# kernel at the next system call instead. The synchronous builds are guest.sh's
# ($P/NAME-O2, default inlining); the buffered ones $P/NAME-buf (run.sh).
cd "$W" || exit 100
buf_markers() { grep -o '"markers" : [0-9]*' "$1" | grep -o '[0-9]*$'; }
for p in callbacks handlers threads procs jumps dispatch errno linecopy; do
    args=
    [ $p = linecopy ] && args="$P/lines.txt buf-$p.copy"
    # shellcheck disable=SC2086
    "$P/$p-buf" $args >"buf-$p.plain" 2>"buf-$p.plain.err"; echo $? >"buf-$p.plain.st"
    [ $p = linecopy ] && sed -i 's/ cpu_ns [0-9]*//' "buf-$p.plain"
    for mode in dyck nfa; do
        for build in buf sync; do
            exe=$P/$p-buf
            [ $build = sync ] && exe=$P/$p-O2
            rm -f "buf-$p.copy"
            # shellcheck disable=SC2086
            "$SBX" run --mode $mode --json-report "buf-$p.$mode.$build.json" -- "$exe" $args \
                >"buf-$p.$mode.$build" 2>"buf-$p.$mode.$build.err"; echo $? >"buf-$p.$mode.$build.st"
            # The copier prints its loop's CPU time, which varies: compare its copy.
            if [ $p = linecopy ]; then
                sed -i 's/ cpu_ns [0-9]*//' "buf-$p.$mode.$build"
                cmp -s "$P/lines.txt" "buf-$p.copy" || echo "the copy differs" >>"buf-$p.$mode.$build"
            fi
        done
        last=buf-$p.$mode.buf.err
        check "buffer: $p --dyck-buffer, --mode $mode: the plain run's output, errors and status ($(cat "buf-$p.plain.st"))" \
            'cmp -s "buf-$p.plain" "buf-$p.$mode.buf" && cmp -s "buf-$p.plain.err" "buf-$p.$mode.buf.err" &&
             cmp -s "buf-$p.plain.st" "buf-$p.$mode.buf.st" && grep -q "\"killed_by_monitor\" : false" "buf-$p.$mode.buf.json"'
        b=$(buf_markers "buf-$p.$mode.buf.json") s=$(buf_markers "buf-$p.$mode.sync.json")
        echo "# $p, --mode $mode: markers buffered $b, synchronous $s"
        case $p in
        errno | linecopy)
            # Their libc calls are stdio and errno functions, none bufferable (stdio
            # may map code through gconv and reach tgkill through abort:
            # BufferedEvents), and at -O2 they keep no instrumented site: nothing
            # to buffer, every marker stays.
            check "buffer: $p, --mode $mode: nothing bufferable, as many markers ($b) as the synchronous build ($s)" \
                '[ -n "$b" ] && [ "$b" = "$s" ]' ;;
        *)
            check "buffer: $p, --mode $mode: the buffered build makes fewer markers ($b) than the synchronous one ($s)" \
                '[ -n "$b" ] && [ -n "$s" ] && [ "$b" -lt "$s" ]' ;;
        esac
    done
done
"$SBX" status >buf-st.txt 2>&1
check "buffer: after the runs nothing is left loaded or enforced" \
    'has buf-st.txt "policies: 0 loaded" && has buf-st.txt "threads: 0 enforced, 0 armed"'
