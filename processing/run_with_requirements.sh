#!/bin/sh
# Entry point of processing jobs whose image lacks a package (validate.py needs Great
# Expectations, which the sklearn image does not ship): install requirements.txt from the code
# folder, then run the named script with the job's arguments. The SDK's FrameworkProcessor
# generates the same kind of runproc.sh. The local runner has the packages already and sets
# CHURN_SKIP_REQUIREMENTS=1.
set -e
cd "$(dirname "$0")"
if [ -f requirements.txt ] && [ "${CHURN_SKIP_REQUIREMENTS:-0}" != "1" ]; then
  python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
script="$1"
shift
exec python3 "$script" "$@"
