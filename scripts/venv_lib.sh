# Shared by the set-up scripts (sourced): a locked, idempotent venv.
# lock_stamp FILE...: the sha256 of the files whose change means "install again".
lock_stamp() {
  cat "$@" | sha256sum | cut -d' ' -f1
}

# venv_is_current VENV WANT: true when VENV was set up from the files whose stamp is WANT.
venv_is_current() {
  [[ -f "$1/.setup-stamp" && "$(cat "$1/.setup-stamp")" == "$2" ]]
}

# pip_install VENV ARGS...: pip install into VENV, quietly.
pip_install() {
  local venv="$1"; shift
  # This machine's pip config names local index folders that may be absent: drop those warnings only.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2)
}
