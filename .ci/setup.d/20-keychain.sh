# Keychain backend (sourced by .ci/run): the tests in tests/keychain.rs run against the real
# gnome-keyring that .ci/run starts with tests/support/start-keyring.sh inside dbus-run-session
# (packages dbus, gnome-keyring, libsecret-tools are installed by .ci/run). Make them required,
# so a missing Secret Service fails CI instead of skipping.
case ",${ENVREF_TEST_REQUIRE:-}," in
  *,keychain,*) ;;
  ,,) export ENVREF_TEST_REQUIRE="keychain" ;;
  *) export ENVREF_TEST_REQUIRE="${ENVREF_TEST_REQUIRE},keychain" ;;
esac
