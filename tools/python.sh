# Sourced by the launch scripts: the interpreter they run, as the Makefile
# and the docs do: $PYTHON when set, else the repository's .venv/bin/python
# when present, else python from PATH.
BIKD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$BIKD_ROOT/.venv/bin/python" ]; then
        PYTHON="$BIKD_ROOT/.venv/bin/python"
    else
        PYTHON=python
    fi
fi
