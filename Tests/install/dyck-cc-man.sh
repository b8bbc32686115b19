#!/usr/bin/env bash
# dyck-cc's man page, from its own --dyck-help text. dyck-cc takes clang's command line,
# so it is not a swift-argument-parser command and generate-manual cannot read it.
#   dyck-cc-man.sh PATH/TO/dyck-cc > dyck-cc.1
set -euo pipefail
help=$("$1" --dyck-help)
summary=$(printf '%s\n' "$help" | sed -n '1,2p' | tr '\n' ' ' | sed 's/^dyck-cc: //; s/ *$//; s/\.$//')
printf '.Dd %s\n.Dt DYCK-CC 1\n.Os\n.Sh NAME\n.Nm dyck-cc\n.Nd %s\n' "$(date -u +'%B %-d, %Y')" "$summary"
printf '.Sh DESCRIPTION\n.Bd -literal\n'
# mdoc: a line starting with . or ' is a request; escape backslashes and such line starts.
printf '%s\n' "$help" | sed 's/\\/\\e/g; s/^\([.'"'"']\)/\\\&\1/'
printf '.Ed\n.Sh SEE ALSO\n.Xr dyck-gen 1 ,\n.Xr sbx 1 ,\n.Xr clang 1\n'
