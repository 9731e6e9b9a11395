#!/usr/bin/env bash
# make test-all: the test suite on each supported Python found on this machine, each in a
# venv of its own (.venv-3.X). Names the interpreters it skipped; fails if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
VERSIONS=(3.11 3.12 3.13)

find_python() {  # the interpreter of version $1: on PATH, else a pyenv install
    local candidate
    for candidate in "python$1" "$(pyenv root 2>/dev/null)"/versions/"$1".*/bin/"python$1"; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c pass >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

results=()
status=0
for version in "${VERSIONS[@]}"; do
    if ! python=$(find_python "$version"); then
        results+=("$version: skipped (no python$version on PATH or in pyenv)")
        continue
    fi
    venv=".venv-$version"
    echo "== Python $version ($python) in $venv"
    if [ ! -x "$venv/bin/python" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        "$python" -m venv "$venv" &&
            "$venv/bin/python" -m pip install --quiet --upgrade pip &&
            "$venv/bin/python" -m pip install --quiet -e '.[cli,test]' &&
            touch "$venv/.installed" || { results+=("$version: FAILED to install"); status=1; continue; }
    fi
    if "$venv/bin/python" -m pytest -q -p no:cacheprovider; then
        results+=("$version: passed ($("$venv/bin/python" -V 2>&1))")
    else
        results+=("$version: FAILED ($("$venv/bin/python" -V 2>&1))")
        status=1
    fi
done
echo "== test-all"
printf '%s\n' "${results[@]}"
exit $status
