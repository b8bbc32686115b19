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
