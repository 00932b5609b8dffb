#!/usr/bin/env bash
# One-command set-up and run. Creates ./.venv (or $RIPDETECT_VENV) on first use, installs ripdetect with what the
# command needs from the package registries (again only when pyproject.toml changed: the install is editable, so code
# changes need none), then:
#   bash run.sh app [app flags]     the web app on the embedded default model (http://127.0.0.1:7860): ripdetect[app]
#   bash run.sh test [pytest args]  every extra, the test tools and Debian's chromium, then the test suite
#                                   (bash run.sh test -m "not slow" is the quick loop)
#   bash run.sh docs [serve flags]  the documentation site on http://127.0.0.1:8000: ripdetect[docs]
set -euo pipefail
cd "$(dirname "$0")"
venv="${RIPDETECT_VENV:-.venv}"
command="${1:-}"
shift || true

install() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    # a stamp per install target, holding the hash of the pyproject.toml it was installed from
    local stamp="$venv/.ripdetect-installed-${1//[^a-z]/_}"
    local wanted
    wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        return
    fi
    echo "run.sh: installing ripdetect$2 into $venv (the first time takes a few minutes: PyTorch is large)" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet --editable "$1"
    echo "$wanted" > "$stamp"
    echo "run.sh: installed" >&2
}

install_chromium() {
    if command -v chromium >/dev/null 2>&1; then
        return
    fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        sudo="sudo"
    fi
    echo "run.sh: installing Debian's chromium for the browser tests" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}

case "$command" in
    app)
        install ".[app]" " with the web app"
        exec "$venv/bin/python" app.py "$@"
        ;;
    test)
        install ".[test]" " with every extra and the test tools"
        install_chromium
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    docs)
        install ".[docs]" " with the documentation tools"
        exec "$venv/bin/mkdocs" serve "$@"
        ;;
    *)
        echo "usage: bash run.sh app [--port 7860 ...] | bash run.sh test [pytest args] | bash run.sh docs [mkdocs serve args]" >&2
        exit 2
        ;;
esac
