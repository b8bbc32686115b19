# shellcheck shell=bash
# Sourced by the evaluations' evaluation-doc.sh scripts: puts a generated
# section into a Markdown file between <!-- NAME begin ... --> and
# <!-- NAME end --> lines, replacing the section of that name if the file has
# one and appending it otherwise (the file is created if missing); the rest of
# the file is kept as it is.
#
#   . eval/lib/doc-section.sh; doc_section_put NAME SECTION_FILE DOC
doc_section_put() {
    local name=$1 section=$2 doc=$3
    mkdir -p "$(dirname "$doc")"
    if [ -f "$doc" ] && grep -q "^<!-- $name begin" "$doc"; then
        awk -v f="$section" -v b="^<!-- $name begin" -v e="^<!-- $name end -->" '
            $0 ~ b { while ((getline l < f) > 0) print l; skip = 1; next }
            $0 ~ e { skip = 0; next }
            !skip { print }' "$doc" >"$doc.new"
    else
        { [ -f "$doc" ] && cat "$doc" && echo || printf '# Evaluation\n\n'; cat "$section"; } >"$doc.new"
    fi
    mv "$doc.new" "$doc"
}

# The pieces the sections share (eval/realworld and eval/nginx use them; eval/mbedtls
# does the same inline and could adopt them).
# doc_env_get RUN KEY: KEY's value in RUN/bench.env (the first one), as bench.sh wrote it.
doc_env_get() { sed -n "s/^$2=//p" "$1/bench.env" | head -1; }
# doc_report_tables REPORT: report.md from its <!-- table begin --> line on (the line
# itself dropped), its "## " headings one level down under the section's own.
doc_report_tables() {
    sed -e '1,/^<!-- table begin -->/{/^<!-- table begin -->/!d}' "$1" | sed '/^<!-- table begin -->/d; s/^## /### /'
}
# doc_build_time TSV PROGRAM VARIANT: "W s wall, C s CPU, M MB" from the last row of
# fetch-build.sh's build-times.tsv for PROGRAM and VARIANT ("?" for a missing CPU
# column, written by older fetch scripts); nothing when there is no such row.
doc_build_time() {
    awk -F'\t' -v p="$2" -v v="$3" '$1 == p && $2 == v {
        s = $3 " s wall, " ($6 == "" ? "?" : $6) " s CPU, " int($4 / 1024) " MB" } END { print s }' "$1"
}
