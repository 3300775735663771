//! The vendor-CLI backends against real CLIs: `aws-ssm` with the `aws` CLI and a moto server,
//! `hashicorp-vault` with OpenBao's CLI (named `vault`) and a `bao server -dev`.
//! Each test starts its own server on 127.0.0.1 and stops it on drop. The backend's `command:`
//! is tests/support/argv-recorder, which logs every argv so the tests can count calls and
//! prove that no secret value and no token reached a child's argv.
//! See tests/support for the harness.
use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{available, Project};

/// A cloud tool: `$ENVREF_TEST_BIN_DIR/<name>` (set by .ci/setup.d/30-cloud.sh), else PATH.
fn tool(name: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ENVREF_TEST_BIN_DIR") {
        let p = Path::new(&dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn recorder() -> PathBuf {
    support::root().join("tests/support/argv-recorder")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process killed (with its process group) when dropped.
struct Server {
    child: Child,
    port: u16,
    _home: tempfile::TempDir,
}

impl Server {
    fn start(mut cmd: Command, port: u16, health: &str, home: tempfile::TempDir) -> Server {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start server");
        let server = Server {
            child,
            port,
            _home: home,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_status(port, health) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "server on port {port} did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status code of `GET path`, or None when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// The argv log of a project's recorder.
struct Recorded {
    log: PathBuf,
}

impl Recorded {
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// How many calls had `word` as an argument.
    fn count(&self, word: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.split(' ').any(|a| a == word))
            .count()
    }

    #[track_caller]
    fn assert_absent(&self, secrets: &[&str]) {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(!log.is_empty(), "the recorder logged nothing");
        for s in secrets {
            assert!(!log.contains(s), "{s:?} appeared in a child's argv:\n{log}");
        }
    }
}

/// Point the project's backend command at the recorder, which runs `real`; TMPDIR private so
/// the test can check that request files are removed.
fn record(p: Project, real: &Path) -> (Project, Recorded) {
    // The test trusts its config to run the recorder (unchecked: some configs are invalid on
    // purpose, and then nothing runs anyway).
    p.envref(&["allow"]);
    let log = p.root.join("argv.log");
    let tmp = p.root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let p = p
        .env("ARGV_RECORDER_LOG", log.to_str().unwrap())
        .env("ARGV_RECORDER_EXEC", real.to_str().unwrap())
        .env("TMPDIR", tmp.to_str().unwrap());
    (p, Recorded { log })
}

#[track_caller]
fn assert_no_temp_files(p: &Project) {
    let left: Vec<_> = std::fs::read_dir(p.root.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// aws-ssm

struct Aws {
    aws: PathBuf,
    server: Server,
}

fn aws() -> Option<Aws> {
    let (aws, moto) = (tool("aws"), tool("moto_server"));
    if !available("aws", aws.is_some() && moto.is_some()) {
        return None;
    }
    let port = free_port();
    let mut cmd = Command::new(moto.unwrap());
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let home = tempfile::tempdir().unwrap();
    let server = Server::start(cmd, port, "/moto-api/", home);
    Some(Aws {
        aws: aws.unwrap(),
        server,
    })
}

impl Aws {
    /// A project whose `aws` children reach the moto server with test credentials.
    fn project(&self, config: &str, env: &str) -> (Project, Recorded) {
        let p = Project::with(config, env)
            .env("AWS_ENDPOINT_URL", self.server.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        record(p, &self.aws)
    }

    /// The real CLI, for cross-checks, with the project's environment.
    fn cli(&self, p: &Project, args: &[&str]) -> support::Run {
        let mut c = p.command(&self.aws);
        c.args(args);
        support::run(c)
    }

    /// Store many parameters with one process (boto3 from the moto venv), not 0.45 s each.
    fn seed(&self, p: &Project, params: &[(String, String)]) {
        let python = std::fs::canonicalize(&self.aws)
            .unwrap()
            .parent()
            .unwrap()
            .join("python");
        let script = "import boto3,json,sys\nc=boto3.client('ssm')\nfor n,v in json.load(sys.stdin):\n c.put_parameter(Name=n,Value=v,Type='SecureString',Overwrite=True)\n";
        let mut c = p.command(python);
        c.args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(params).unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "seeding failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn ssm_config(extra: &str) -> String {
    format!("project: my-app\nbackends:\n  - name: ssm\n    type: aws-ssm\n    config:\n      command: {}\n{extra}", recorder().display())
}

#[test]
fn aws_ssm_set_get_list_delete_with_verbatim_values() {
    let Some(aws) = aws() else { return };
    let (p, rec) = aws.project(
        &ssm_config(""),
        "API_KEY=ref://secrets/api_key\nURL=ref://ssm/url\n",
    );
    let values = [
        ("api_key", "sk-live-Secr3tValue1"),
        (
            "url",
            "http://example.invalid/should-not-be-fetched-Secr3t2",
        ),
        ("path", "file:///etc/hostname-Secr3t3"),
        ("blob", "fileb:///etc/hostname-Secr3t4"),
        ("dash", "-starts-with-a-dash-Secr3t5"),
        ("multi", "line one Secr3t6\nline \"two\" $HOME `x`"),
    ];
    for (k, v) in values {
        p.envref_stdin(
            &["secret", "set", k, "--backend", "ssm", "--stdin"],
            &format!("{v}\n"),
        )
        .ok();
    }
    for (k, v) in values {
        let got = p.envref(&["secret", "get", k, "--backend", "ssm"]).ok();
        assert_eq!(got.stdout.trim_end_matches('\n'), v, "value of {k}");
    }
    // The storage layout is the spec's: SecureString at <prefix>/<namespaced key>.
    let raw = aws
        .cli(
            &p,
            &[
                "ssm",
                "get-parameter",
                "--name",
                "/envref/my-app/url",
                "--with-decryption",
                "--output",
                "json",
            ],
        )
        .ok();
    let raw: serde_json::Value = serde_json::from_str(&raw.stdout).unwrap();
    assert_eq!(raw["Parameter"]["Type"], "SecureString");
    assert_eq!(raw["Parameter"]["Value"], values[1].1);

    let list = p.envref(&["secret", "list", "--backend", "ssm"]).ok();
    let mut names: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
    names.sort();
    assert_eq!(
        list.stdout.lines().collect::<Vec<_>>(),
        names,
        "{}",
        list.stderr
    );

    let out = p.envref(&["resolve", "--format", "json"]).ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(env["API_KEY"], values[0].1);
    assert_eq!(env["URL"], values[1].1);

    p.envref(&["secret", "delete", "api_key", "--backend", "ssm", "--force"])
        .ok();
    let gone = p
        .envref(&["secret", "get", "api_key", "--backend", "ssm"])
        .fails(1);
    assert!(gone.stderr.contains("not found"), "{}", gone.stderr);
    let again = p
        .envref(&["secret", "delete", "api_key", "--backend", "ssm", "--force"])
        .fails(1);
    assert!(again.stderr.contains("not found"), "{}", again.stderr);
    let list = p.envref(&["secret", "list", "--backend", "ssm"]).ok();
    assert!(!list.stdout.contains("api_key"), "{}", list.stdout);

    assert!(rec.count("put-parameter") == values.len());
    assert!(rec.lines().iter().all(|l| !l.contains("--value")));
    let secrets: Vec<&str> = values.iter().map(|(_, v)| *v).chain(["Secr3t"]).collect();
    rec.assert_absent(&secrets);
    assert_no_temp_files(&p);
}

#[test]
fn aws_ssm_resolves_25_secrets_with_3_get_parameters_calls() {
    let Some(aws) = aws() else { return };
    let env: String = (0..25)
        .map(|i| format!("K{i:02}=ref://secrets/key_{i:02}\n"))
        .collect();
    let (p, rec) = aws.project(&ssm_config(""), &env);
    let params: Vec<(String, String)> = (0..25)
        .map(|i| {
            (
                format!("/envref/my-app/key_{i:02}"),
                format!("value-{i:02}-Secr3t"),
            )
        })
        .collect();
    aws.seed(&p, &params);
    let out = p.envref(&["resolve", "--format", "json"]).ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for i in 0..25 {
        assert_eq!(env[format!("K{i:02}")], format!("value-{i:02}-Secr3t"));
    }
    assert_eq!(rec.count("get-parameters"), 3, "{:#?}", rec.lines());
    assert_eq!(rec.count("get-parameter"), 0);
    assert_eq!(rec.lines().len(), 3);
    rec.assert_absent(&["Secr3t"]);
}

#[test]
fn aws_ssm_profile_scope_falls_back_to_project_scope() {
    let Some(aws) = aws() else { return };
    let env = "A=ref://secrets/a\nB=ref://secrets/b\nC=ref://secrets/c\n";
    let (p, rec) = aws.project(&ssm_config(""), env);
    aws.seed(
        &p,
        &[
            ("/envref/my-app/staging/a".into(), "staging-a".into()),
            ("/envref/my-app/a".into(), "project-a".into()),
            ("/envref/my-app/b".into(), "project-b".into()),
            ("/envref/my-app/c".into(), "project-c".into()),
            ("/envref/my-app/staging/c".into(), "staging-c".into()),
        ],
    );
    let out = p
        .envref(&["resolve", "--profile", "staging", "--format", "json"])
        .ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(env["A"], "staging-a");
    assert_eq!(env["B"], "project-b");
    assert_eq!(env["C"], "staging-c");
    // One batch per scope; the project scope is asked only for what the profile scope lacked.
    assert_eq!(rec.count("get-parameters"), 2, "{:#?}", rec.lines());
    let last = rec.lines().pop().unwrap();
    assert!(
        last.contains("/envref/my-app/b") && !last.contains("/envref/my-app/a"),
        "{last}"
    );

    // `secret set -P staging` writes the profile scope; `secret list -P staging` lists it.
    p.envref_stdin(
        &[
            "secret",
            "set",
            "d",
            "-P",
            "staging",
            "--backend",
            "ssm",
            "--stdin",
        ],
        "staging-d\n",
    )
    .ok();
    let list = p
        .envref(&["secret", "list", "-P", "staging", "--backend", "ssm"])
        .ok();
    assert_eq!(list.stdout.lines().collect::<Vec<_>>(), ["a", "c", "d"]);
}

#[test]
fn aws_ssm_two_named_backends_with_profiles_and_regions() {
    let Some(aws) = aws() else { return };
    // The spec's multi-environment example, with each AWS named profile in a credentials file
    // and no default credentials or region at all.
    let config = format!(
        "project: my-api\nbackends:\n  - name: ssm-staging\n    type: aws-ssm\n    config:\n      prefix: /my-api/staging\n      region: us-west-2\n      profile: staging\n      command: {r}\n  - name: ssm-prod\n    type: aws-ssm\n    config:\n      prefix: /my-api/production\n      region: us-west-2\n      profile: production\n      command: {r}\n",
        r = recorder().display()
    );
    let (p, rec) = aws.project(
        &config,
        "ANY=ref://secrets/api_key\nPROD=ref://ssm-prod/api_key\n",
    );
    let creds = p.root.join("credentials");
    std::fs::write(
        &creds,
        "[staging]\naws_access_key_id = stagingKEY\naws_secret_access_key = stagingSECRETtok3n\n[production]\naws_access_key_id = prodKEY\naws_secret_access_key = prodSECRETtok3n\n",
    )
    .unwrap();
    let mut p = p;
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ] {
        p.extra_env.retain(|(key, _)| key != k);
    }
    p.set_env("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap());

    p.envref(&[
        "secret",
        "set",
        "api_key",
        "--backend",
        "ssm-staging",
        "--value",
        "sk_test_abc",
    ])
    .ok();
    p.envref(&[
        "secret",
        "set",
        "api_key",
        "--backend",
        "ssm-prod",
        "--value",
        "sk_live_xyz",
    ])
    .ok();
    let got = p
        .envref(&["secret", "get", "api_key", "--backend", "ssm-staging"])
        .ok();
    assert_eq!(got.stdout.trim(), "sk_test_abc");
    let got = p
        .envref(&["secret", "get", "api_key", "--backend", "ssm-prod"])
        .ok();
    assert_eq!(got.stdout.trim(), "sk_live_xyz");
    let out = p.envref(&["resolve", "--format", "json"]).ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        env["ANY"], "sk_test_abc",
        "the chain's first backend answers ref://secrets/"
    );
    assert_eq!(
        env["PROD"], "sk_live_xyz",
        "ref://ssm-prod/ asks only ssm-prod"
    );

    // Stored where the spec says, in the configured region.
    let raw = aws
        .cli(
            &p,
            &[
                "ssm",
                "get-parameter",
                "--name",
                "/my-api/production/my-api/api_key",
                "--with-decryption",
                "--region",
                "us-west-2",
                "--profile",
                "production",
                "--output",
                "json",
            ],
        )
        .ok();
    assert!(raw.stdout.contains("sk_live_xyz"));
    assert!(rec.lines().iter().all(|l| l.contains("--region us-west-2")));
    assert!(rec
        .lines()
        .iter()
        .any(|l| l.contains("--profile production")));
    rec.assert_absent(&["sk_test_abc", "sk_live_xyz", "SECRETtok3n"]);

    // Without a usable profile the CLI's own message comes through, with a hint.
    let config = ssm_config("      profile: nobody\n      region: us-west-2\n");
    p.write_allowed_config(&config);
    let err = p
        .envref(&["secret", "get", "api_key", "--backend", "ssm"])
        .fails(1);
    assert!(
        err.stderr.contains("ssm: aws ssm get-parameter"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("nobody"), "{}", err.stderr);
}

#[test]
fn aws_ssm_errors_are_clear() {
    let Some(aws) = aws() else { return };
    let (mut p, _rec) = aws.project(&ssm_config(""), "A=ref://secrets/a\n");
    // No credentials at all.
    p.extra_env
        .retain(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY");
    let err = p
        .envref(&["secret", "get", "a", "--backend", "ssm"])
        .fails(1);
    assert!(
        err.stderr.contains("Unable to locate credentials"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("aws configure"), "{}", err.stderr);
    // A missing executable: the install hint.
    p.write_allowed_config("project: my-app\nbackends:\n  - name: ssm\n    type: aws-ssm\n    config:\n      command: /nonexistent/aws\n");
    let err = p.envref(&["resolve"]).fails(1);
    assert!(
        err.stderr.contains("executable /nonexistent/aws not found"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("install the AWS CLI"), "{}", err.stderr);
    // Server down.
    let (p, _rec) = aws.project(&ssm_config("      timeout: 20s\n"), "A=ref://secrets/a\n");
    let p = p
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", free_port()),
        )
        .env("AWS_MAX_ATTEMPTS", "1");
    let err = p
        .envref(&["secret", "get", "a", "--backend", "ssm"])
        .fails(1);
    assert!(
        err.stderr.contains("Could not connect to the endpoint URL"),
        "{}",
        err.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// hashicorp-vault (OpenBao)

const ROOT_TOKEN: &str = "envref-test-root-tok3n-7f3a";

struct Bao {
    vault: PathBuf,
    server: Server,
}

fn bao() -> Option<Bao> {
    let (vault, bao) = (tool("vault"), tool("bao").or_else(|| tool("vault")));
    if !available("hashicorp-vault", vault.is_some() && bao.is_some()) {
        return None;
    }
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bao.unwrap());
    cmd.args([
        "server",
        "-dev",
        &format!("-dev-root-token-id={ROOT_TOKEN}"),
        &format!("-dev-listen-address=127.0.0.1:{port}"),
        "-dev-no-store-token",
    ])
    .env("HOME", home.path());
    let server = Server::start(cmd, port, "/v1/sys/health", home);
    Some(Bao {
        vault: vault.unwrap(),
        server,
    })
}

impl Bao {
    /// The real CLI as an administrator would run it.
    fn cli(&self, p: &Project, args: &[&str]) -> support::Run {
        let mut c = p.command(&self.vault);
        c.args(args)
            .env("VAULT_ADDR", self.server.url())
            .env("VAULT_TOKEN", ROOT_TOKEN);
        support::run(c)
    }
}

fn hc_config(options: &str) -> String {
    format!(
        "project: payment-service\nbackends:\n  - name: hcvault\n    type: hashicorp-vault\n    config:\n      command: {}\n{options}",
        recorder().display()
    )
}

#[test]
fn hashicorp_vault_set_get_list_delete_with_addr_and_token_options() {
    let Some(bao) = bao() else { return };
    let config = hc_config(&format!(
        "      mount: secret\n      prefix: payment-service\n      addr: {}\n      token: {ROOT_TOKEN}\n",
        bao.server.url()
    ));
    let p = Project::with(
        &config,
        "STRIPE_KEY=ref://secrets/stripe_key\nWEBHOOK=ref://hcvault/webhook_secret\n",
    );
    let (p, rec) = record(p, &bao.vault);
    let values = [
        ("stripe_key", "sk_live_abc123-Secr3t"),
        (
            "webhook_secret",
            "whsec-Secr3t value=with spaces\nand a newline",
        ),
        ("dash", "-Secr3t-dash"),
    ];
    for (k, v) in values {
        p.envref_stdin(
            &["secret", "set", k, "--backend", "hcvault", "--stdin"],
            &format!("{v}\n"),
        )
        .ok();
    }
    for (k, v) in values {
        let got = p.envref(&["secret", "get", k, "--backend", "hcvault"]).ok();
        assert_eq!(got.stdout.trim_end_matches('\n'), v);
    }
    // Layout: <mount>/data/<prefix>/<namespaced key>, field `value`.
    let raw = bao
        .cli(
            &p,
            &[
                "kv",
                "get",
                "-mount=secret",
                "-field=value",
                "payment-service/payment-service/stripe_key",
            ],
        )
        .ok();
    assert_eq!(raw.stdout, values[0].1);

    let out = p.envref(&["resolve", "--format", "json"]).ok();
    let env: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(env["STRIPE_KEY"], values[0].1);
    assert_eq!(env["WEBHOOK"], values[1].1);

    p.envref_stdin(
        &[
            "secret",
            "set",
            "nested",
            "-P",
            "staging",
            "--backend",
            "hcvault",
            "--stdin",
        ],
        "n\n",
    )
    .ok();
    let list = p.envref(&["secret", "list", "--backend", "hcvault"]).ok();
    assert_eq!(
        list.stdout.lines().collect::<Vec<_>>(),
        ["dash", "staging/nested", "stripe_key", "webhook_secret"],
        "{}",
        list.stderr
    );
    let list = p
        .envref(&["secret", "list", "-P", "staging", "--backend", "hcvault"])
        .ok();
    assert_eq!(list.stdout.lines().collect::<Vec<_>>(), ["nested"]);

    p.envref(&[
        "secret",
        "delete",
        "stripe_key",
        "--backend",
        "hcvault",
        "--force",
    ])
    .ok();
    let gone = p
        .envref(&["secret", "get", "stripe_key", "--backend", "hcvault"])
        .fails(1);
    assert!(gone.stderr.contains("not found"), "{}", gone.stderr);
    let again = p
        .envref(&[
            "secret",
            "delete",
            "stripe_key",
            "--backend",
            "hcvault",
            "--force",
        ])
        .fails(1);
    assert!(again.stderr.contains("not found"), "{}", again.stderr);
    // Really gone: no versions and no metadata left.
    bao.cli(
        &p,
        &[
            "kv",
            "metadata",
            "get",
            "-mount=secret",
            "payment-service/payment-service/stripe_key",
        ],
    )
    .fails(2);

    // A soft delete by someone else (`vault kv delete`) reads as not found.
    bao.cli(
        &p,
        &[
            "kv",
            "delete",
            "-mount=secret",
            "payment-service/payment-service/dash",
        ],
    )
    .ok();
    let err = p
        .envref(&["secret", "get", "dash", "--backend", "hcvault"])
        .fails(1);
    assert!(err.stderr.contains("not found"), "{}", err.stderr);

    let secrets: Vec<&str> = values
        .iter()
        .map(|(_, v)| *v)
        .chain(["Secr3t", ROOT_TOKEN])
        .collect();
    rec.assert_absent(&secrets);
    assert!(rec.lines().iter().all(|l| l.starts_with("kv ")));
}

#[test]
fn hashicorp_vault_mount_prefix_and_environment() {
    let Some(bao) = bao() else { return };
    let p = Project::new();
    bao.cli(&p, &["secrets", "enable", "-path=kv", "kv-v2"])
        .ok();
    // The spec's Enterprise-style example minus the namespace (OpenBao dev has none); address
    // and token from the environment.
    let config = hc_config("      mount: kv\n      prefix: team-alpha/myapp\n");
    p.write_allowed_config(&config);
    p.write(".env", "TOKEN=ref://secrets/api_token\n");
    let (p, rec) = record(p, &bao.vault);
    let p = p
        .env("VAULT_ADDR", bao.server.url())
        .env("VAULT_TOKEN", ROOT_TOKEN);
    p.envref(&[
        "secret",
        "set",
        "api_token",
        "--backend",
        "hcvault",
        "--value",
        "tok-Secr3t",
    ])
    .ok();
    let raw = bao
        .cli(
            &p,
            &[
                "kv",
                "get",
                "-mount=kv",
                "-field=value",
                "team-alpha/myapp/payment-service/api_token",
            ],
        )
        .ok();
    assert_eq!(raw.stdout, "tok-Secr3t");
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout.trim(), "TOKEN=tok-Secr3t");
    assert!(rec.lines().iter().all(|l| l.contains("-mount=kv")));
    rec.assert_absent(&["Secr3t", ROOT_TOKEN]);
    // An entry written by hand without the `value` field is an error, not "not found".
    bao.cli(
        &p,
        &[
            "kv",
            "put",
            "-mount=kv",
            "team-alpha/myapp/payment-service/other",
            "password=x",
        ],
    )
    .ok();
    let err = p
        .envref(&["secret", "get", "other", "--backend", "hcvault"])
        .fails(1);
    assert!(
        err.stderr.contains("has no field `value`"),
        "{}",
        err.stderr
    );
}

#[test]
fn hashicorp_vault_wrong_token_and_server_down_are_clear_errors() {
    let Some(bao) = bao() else { return };
    let config = hc_config(&format!(
        "      addr: {}\n      token: wrong-tok3n\n",
        bao.server.url()
    ));
    let (p, rec) = record(Project::with(&config, "A=ref://secrets/a\n"), &bao.vault);
    let err = p
        .envref(&["secret", "get", "a", "--backend", "hcvault"])
        .fails(1);
    rec.assert_absent(&["wrong-tok3n"]);
    assert!(
        err.stderr.contains("hcvault: vault kv get: Code: 403"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("permission denied"), "{}", err.stderr);
    assert!(err.stderr.contains("vault login"), "{}", err.stderr);
    assert!(!err.stderr.contains("wrong-tok3n"), "{}", err.stderr);
    let err = p.envref(&["resolve"]).fails(1);
    assert!(
        err.stderr.contains("403") && err.stderr.contains("vault login"),
        "{}",
        err.stderr
    );

    let config = hc_config(&format!(
        "      addr: http://127.0.0.1:{}\n      token: {ROOT_TOKEN}\n",
        free_port()
    ));
    p.write_allowed_config(&config);
    let err = p
        .envref(&["secret", "get", "a", "--backend", "hcvault"])
        .fails(1);
    assert!(err.stderr.contains("connection refused"), "{}", err.stderr);

    p.write_allowed_config(
        "project: p\nbackends:\n  - name: hcvault\n    type: hashicorp-vault\n    config:\n      command: /nonexistent/vault\n",
    );
    let err = p
        .envref(&["secret", "get", "a", "--backend", "hcvault"])
        .fails(1);
    assert!(
        err.stderr.contains("install the Vault CLI"),
        "{}",
        err.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// 1password (a fake `op` that keeps state in a file: no real `op` is obtainable here)

fn fake_op(p: Project) -> Option<(Project, Recorded)> {
    if !available("1password", support::have("python3")) {
        return None;
    }
    let state = p.root.join("op-state.json");
    let p = p.env("FAKE_OP_STATE", state.to_str().unwrap());
    Some(record(p, &support::root().join("tests/support/fake-op")))
}

#[test]
fn onepassword_spec_example_set_get_update_list_delete() {
    // The spec's team setup, verbatim apart from `command:`.
    let config = format!(
        "project: my-saas-app\n\nbackends:\n  - name: op\n    type: 1password\n    config:\n      vault: Engineering\n      account: mycompany.1password.com\n      command: {}\n",
        recorder().display()
    );
    let env =
        "STRIPE_API_KEY=ref://secrets/stripe_api_key\nSENDGRID_KEY=ref://secrets/sendgrid_key\n";
    let Some((p, rec)) = fake_op(Project::with(&config, env)) else {
        return;
    };
    p.envref(&[
        "secret",
        "set",
        "stripe_api_key",
        "--value",
        "sk_live_abc123",
    ])
    .ok();
    p.envref(&["secret", "set", "sendgrid_key", "--value", "SG.xyz789"])
        .ok();
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(
        out.stdout,
        "STRIPE_API_KEY=sk_live_abc123\nSENDGRID_KEY=SG.xyz789\n"
    );

    // Stored as the spec says: a Secure Note titled with the namespaced key, in that vault
    // and account, the value in notesPlain.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.root.join("op-state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["mycompany.1password.com/Engineering"]["my-saas-app/stripe_api_key"]["notes"],
        "sk_live_abc123"
    );

    // Update in place (item edit with a template file), odd values verbatim.
    let odd = "-multi\nline \"quoted\" notesPlain=x http://example.invalid";
    p.envref_stdin(
        &["secret", "set", "stripe_api_key", "--stdin"],
        &format!("{odd}\n"),
    )
    .ok();
    let got = p.envref(&["secret", "get", "stripe_api_key"]).ok();
    assert_eq!(got.stdout.trim_end_matches('\n'), odd);
    assert_eq!(rec.count("create"), 2);
    assert_eq!(rec.count("edit"), 1);

    let list = p.envref(&["secret", "list"]).ok();
    assert_eq!(list.stdout, "sendgrid_key\nstripe_api_key\n");
    p.envref(&["secret", "delete", "sendgrid_key", "--force"])
        .ok();
    let err = p.envref(&["secret", "get", "sendgrid_key"]).fails(1);
    assert!(err.stderr.contains("not found"), "{}", err.stderr);
    let again = p
        .envref(&["secret", "delete", "sendgrid_key", "--force"])
        .fails(1);
    assert!(again.stderr.contains("not found"), "{}", again.stderr);
    let err = p.envref(&["resolve"]).fails(1);
    assert!(err.stderr.contains("SENDGRID_KEY"), "{}", err.stderr);
    assert_eq!(
        p.envref(&["secret", "list"]).ok().stdout,
        "stripe_api_key\n"
    );

    assert!(rec
        .lines()
        .iter()
        .all(|l| l.contains("--vault Engineering")
            && l.contains("--account mycompany.1password.com")));
    rec.assert_absent(&["sk_live_abc123", "SG.xyz789", "quoted", "example.invalid"]);
    assert_no_temp_files(&p);
}

#[test]
fn onepassword_errors_are_clear() {
    let config =
        format!("project: app\nbackends:\n  - name: op\n    type: 1password\n    config:\n      command: {}\n", recorder().display());
    let Some((p, _rec)) = fake_op(Project::with(&config, "A=ref://secrets/a\n")) else {
        return;
    };
    // The default vault is Personal; an item without notesPlain is an error, not "not found".
    std::fs::write(
        p.root.join("op-state.json"),
        r#"{"default/Personal": {"app/a": {"id": "x", "notes": "va"}}}"#,
    )
    .unwrap();
    assert_eq!(p.envref(&["secret", "get", "a"]).ok().stdout.trim(), "va");

    let p = p.env("FAKE_OP_SIGNED_OUT", "1");
    let err = p.envref(&["secret", "get", "a"]).fails(1);
    assert!(
        err.stderr.contains("op: op item get: [ERROR]")
            && err.stderr.contains("not currently signed in"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("op signin"), "{}", err.stderr);
    let err = p.envref(&["resolve"]).fails(1);
    assert!(err.stderr.contains("op signin"), "{}", err.stderr);

    p.write_allowed_config("project: app\nbackends:\n  - name: op\n    type: 1password\n    config:\n      command: /nonexistent/op\n");
    let err = p.envref(&["secret", "get", "a"]).fails(1);
    assert!(
        err.stderr.contains("install the 1Password CLI"),
        "{}",
        err.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// oci-vault (the real `oci` CLI against tests/support/fake_oci_server.py: no OCI emulator exists)

const VAULT_ID: &str = "ocid1.vault.oc1.iad.test-vault";
const COMPARTMENT_ID: &str = "ocid1.compartment.oc1..test-compartment";
const KEY_ID: &str = "ocid1.key.oc1.iad.test-key";

struct Oci {
    oci: PathBuf,
    server: Server,
    /// Holds the throwaway API key, the CLI config and rc files, and the request log.
    dir: PathBuf,
}

/// The real `oci` CLI and a fake OCI server (list pages of 2, so `--all` has to follow
/// `opc-next-page`), with a throwaway API key and a `[DEFAULT]` and a `[TEAM]` profile.
fn oci() -> Option<Oci> {
    let oci = tool("oci");
    if !available(
        "oci",
        oci.is_some() && support::have("python3") && support::have("openssl"),
    ) {
        return None;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_path_buf();
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-c", script])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    sh("openssl genrsa -out key.pem 2048 2>/dev/null");
    let fingerprint =
        sh("openssl rsa -in key.pem -pubout -outform DER 2>/dev/null | openssl md5 -c");
    let fingerprint = fingerprint.trim().rsplit(' ').next().unwrap().to_string();
    let key = dir.join("key.pem");
    let profile = |name: &str| {
        format!(
            "[{name}]\nuser=ocid1.user.oc1..{n}\nfingerprint={fingerprint}\ntenancy=ocid1.tenancy.oc1..test\nregion=us-ashburn-1\nkey_file={}\n",
            key.display(),
            n = name.to_lowercase()
        )
    };
    std::fs::write(
        dir.join("config"),
        format!("{}\n{}", profile("DEFAULT"), profile("TEAM")),
    )
    .unwrap();
    // No retries (an unreachable endpoint would take 94 s with them); the backend passes nothing
    // special, the CLI reads this defaults file through OCI_CLI_RC_FILE.
    std::fs::write(
        dir.join("oci_cli_rc"),
        "[DEFAULT]\nno_retry = True\n\n[TEAM]\nno_retry = True\n",
    )
    .unwrap();
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.arg(support::root().join("tests/support/fake_oci_server.py"))
        .arg(port.to_string())
        .arg(dir.join("requests.jsonl"))
        .arg("2");
    let server = Server::start(cmd, port, "/health", home);
    Some(Oci {
        oci: oci.unwrap(),
        server,
        dir,
    })
}

impl Oci {
    /// A project whose `oci` children use the throwaway config and reach the fake server.
    fn project(&self, config: &str, env: &str) -> (Project, Recorded) {
        let p = Project::with(config, env)
            .env(
                "OCI_CLI_CONFIG_FILE",
                self.dir.join("config").to_str().unwrap(),
            )
            .env(
                "OCI_CLI_RC_FILE",
                self.dir.join("oci_cli_rc").to_str().unwrap(),
            )
            .env("OCI_CLI_ENDPOINT", self.server.url())
            .env("OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING", "True")
            .env("SUPPRESS_LABEL_WARNING", "True");
        record(p, &self.oci)
    }

    /// Every request the fake server received, in order.
    fn requests(&self) -> Vec<serde_json::Value> {
        let log = std::fs::read_to_string(self.dir.join("requests.jsonl")).unwrap_or_default();
        log.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap().ends_with(path_suffix))
            .count()
    }
}

fn oci_config(extra: &str) -> String {
    format!(
        "project: my-app\nbackends:\n  - name: oci\n    type: oci-vault\n    config:\n      vault_id: {VAULT_ID}\n      compartment_id: {COMPARTMENT_ID}\n      key_id: {KEY_ID}\n      command: {}\n{extra}",
        recorder().display()
    )
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                T[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn oci_vault_set_get_list_delete_and_content_only_in_bodies() {
    let Some(oci) = oci() else { return };
    let env = "API_KEY=ref://secrets/api_key\nMULTI=ref://secrets/multi\nUNI=ref://oci/unicode\nDB=ref://secrets/db.url\nDASH=ref://secrets/dash\n";
    let (p, rec) = oci.project(&oci_config(""), env);
    let values = [
        ("api_key", "sk-live-Secr3tValue1"),
        (
            "multi",
            "line one Secr3t2\nline \"two\" 'single' $HOME `x` \\ back",
        ),
        ("unicode", "pässwörd-Secr3t3 — 秘密 🔑"),
        ("db.url", "http://user:Secr3t4@db.invalid/x"),
        ("dash", "-Secr3t5 --from-json file:///etc/passwd"),
    ];
    for (k, v) in values {
        p.envref_stdin(
            &["secret", "set", k, "--backend", "oci", "--stdin"],
            &format!("{v}\n"),
        )
        .ok();
    }
    for (k, v) in values {
        let got = p.envref(&["secret", "get", k, "--backend", "oci"]).ok();
        assert_eq!(got.stdout.trim_end_matches('\n'), v, "value of {k}");
    }
    // Layout: secret named after the namespaced key (`/` -> `..`, `.` -> `.-`), content base64,
    // in the configured vault and compartment, encrypted with the configured key.
    let creates: Vec<serde_json::Value> = oci
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/20180608/secrets")
        .collect();
    assert_eq!(creates.len(), values.len());
    let names: Vec<&str> = creates
        .iter()
        .map(|r| r["body"]["secretName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "my-app..api_key",
            "my-app..multi",
            "my-app..unicode",
            "my-app..db.-url",
            "my-app..dash"
        ]
    );
    for (r, (_, v)) in creates.iter().zip(values) {
        assert_eq!(
            r["body"]["secretContent"],
            serde_json::json!({"contentType": "BASE64", "content": b64(v)})
        );
        assert_eq!(r["body"]["vaultId"], VAULT_ID);
        assert_eq!(r["body"]["compartmentId"], COMPARTMENT_ID);
        assert_eq!(r["body"]["keyId"], KEY_ID);
        assert_eq!(r["signed"], true);
    }

    // Resolve: one get-secret-bundle-by-name per reference (no batch read in OCI).
    let before = rec.count("get-secret-bundle-by-name");
    let out = p.envref(&["resolve", "--format", "json"]).ok();
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got["API_KEY"], values[0].1);
    assert_eq!(got["MULTI"], values[1].1);
    assert_eq!(got["UNI"], values[2].1);
    assert_eq!(got["DB"], values[3].1);
    assert_eq!(got["DASH"], values[4].1);
    assert_eq!(rec.count("get-secret-bundle-by-name") - before, 5);

    // A profile-scoped key, then list: 6 secrets over 3 pages of 2, all followed by `--all`.
    p.envref_stdin(
        &[
            "secret",
            "set",
            "nested",
            "-P",
            "staging",
            "--backend",
            "oci",
            "--stdin",
        ],
        "n-Secr3t6\n",
    )
    .ok();
    assert!(oci
        .requests()
        .iter()
        .any(|r| r["body"]["secretName"] == "my-app..staging..nested"));
    let pages_before = oci.count("GET", "/20180608/secrets");
    let list = p.envref(&["secret", "list", "--backend", "oci"]).ok();
    assert_eq!(
        list.stdout.lines().collect::<Vec<_>>(),
        [
            "api_key",
            "dash",
            "db.url",
            "multi",
            "staging/nested",
            "unicode"
        ],
        "{}",
        list.stderr
    );
    assert_eq!(
        oci.count("GET", "/20180608/secrets") - pages_before,
        3,
        "three pages of two"
    );
    let last = oci
        .requests()
        .into_iter()
        .rfind(|r| r["method"] == "GET")
        .unwrap();
    assert_eq!(last["query"]["lifecycleState"][0], "ACTIVE");
    assert_eq!(last["query"]["page"][0], "4");
    let list = p
        .envref(&["secret", "list", "-P", "staging", "--backend", "oci"])
        .ok();
    assert_eq!(list.stdout, "nested\n");

    // Update: a new version of the same secret (PUT), no second secret.
    p.envref_stdin(
        &["secret", "set", "api_key", "--backend", "oci", "--stdin"],
        "sk-live-Secr3tValue7\n",
    )
    .ok();
    assert_eq!(oci.count("PUT", ""), 1);
    assert_eq!(
        p.envref(&["secret", "get", "api_key", "--backend", "oci"])
            .ok()
            .stdout,
        "sk-live-Secr3tValue7\n"
    );

    // Delete schedules the deletion; the key is gone for get, list and a second delete.
    p.envref(&["secret", "delete", "api_key", "--backend", "oci", "--force"])
        .ok();
    assert_eq!(oci.count("POST", "/actions/scheduleDeletion"), 1);
    let gone = p
        .envref(&["secret", "get", "api_key", "--backend", "oci"])
        .fails(1);
    assert!(
        gone.stderr.contains("secret not found: api_key"),
        "{}",
        gone.stderr
    );
    p.envref(&["secret", "delete", "api_key", "--backend", "oci", "--force"])
        .fails(1);
    assert_eq!(oci.count("POST", "/actions/scheduleDeletion"), 1);
    let list = p.envref(&["secret", "list", "--backend", "oci"]).ok();
    assert!(!list.stdout.contains("api_key"), "{}", list.stdout);
    let err = p.envref(&["resolve"]).fails(1);
    assert!(err.stderr.contains("API_KEY"), "{}", err.stderr);

    // The pending-deletion secret still owns its name: setting the key again cancels the
    // deletion and stores a new version in it (no 409 from a second create).
    p.envref_stdin(
        &["secret", "set", "api_key", "--backend", "oci", "--stdin"],
        "sk-live-Secr3tValue8\n",
    )
    .ok();
    assert_eq!(oci.count("POST", "/actions/cancelDeletion"), 1);
    assert_eq!(
        oci.count("POST", "/20180608/secrets"),
        values.len() + 1,
        "no new secret was created"
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key", "--backend", "oci"])
            .ok()
            .stdout,
        "sk-live-Secr3tValue8\n"
    );
    assert!(p
        .envref(&["secret", "list", "--backend", "oci"])
        .ok()
        .stdout
        .contains("api_key"));

    // Content travelled only in request bodies: never in a path or a query string, and never
    // in any child's argv, as text or as base64.
    let all_values: Vec<String> = values
        .iter()
        .map(|(_, v)| v.to_string())
        .chain(["n-Secr3t6", "sk-live-Secr3tValue7", "sk-live-Secr3tValue8"].map(String::from))
        .collect();
    let encoded: Vec<String> = all_values.iter().map(|v| b64(v)).collect();
    for r in oci.requests() {
        let url = format!("{} {}", r["path"], r["query"]);
        for (v, e) in all_values.iter().zip(&encoded) {
            assert!(
                !url.contains(v.as_str()) && !url.contains(e.as_str()),
                "content in a URL: {url}"
            );
        }
        if r["method"] == "PUT" || r["path"] == "/20180608/secrets" && r["method"] == "POST" {
            assert!(r["body"]["secretContent"]["content"].is_string());
        } else {
            assert!(!r["body"].to_string().contains("secretContent"), "{r}");
        }
    }
    let mut secrets: Vec<&str> = all_values.iter().map(String::as_str).collect();
    secrets.extend(encoded.iter().map(String::as_str));
    secrets.push("Secr3t");
    rec.assert_absent(&secrets);
    assert!(rec
        .lines()
        .iter()
        .filter(|l| l.contains("create-base64") || l.contains("update-base64"))
        .all(|l| l.contains("--from-json file://")));
    assert!(
        rec.lines().iter().all(|l| l.ends_with("--output json ")),
        "{:#?}",
        rec.lines()
    );
    assert_no_temp_files(&p);
}

#[test]
fn oci_vault_spec_example_works_as_written() {
    let Some(oci) = oci() else { return };
    // The spec's "Oracle Cloud workload" example, verbatim: no `command:`, so `oci` comes from
    // PATH (here the recorder, named oci, in front of the real CLI).
    let config = "# .envref.yaml\nproject: oci-microservice\n\nbackends:\n  - name: oci\n    type: oci-vault\n    config:\n      vault_id: ocid1.vault.oc1.iad.b5re4wdnaabc.abuwcljr...\n      compartment_id: ocid1.compartment.oc1..aaaaaaa...\n      key_id: ocid1.key.oc1.iad.b5re4wdnaabc.abuwcljr...\n";
    let (p, rec) = oci.project(config, "DB_PASSWORD=ref://secrets/db_password\n");
    let bin = p.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(recorder(), bin.join("oci")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let p = p.env("PATH", path);
    p.envref(&[
        "secret",
        "set",
        "db_password",
        "--backend",
        "oci",
        "--value",
        "oracle-secret-123",
    ])
    .ok();
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout, "DB_PASSWORD=oracle-secret-123\n");
    let create = oci
        .requests()
        .into_iter()
        .find(|r| r["method"] == "POST" && r["path"] == "/20180608/secrets")
        .unwrap();
    assert_eq!(
        create["body"]["secretName"],
        "oci-microservice..db_password"
    );
    assert_eq!(
        create["body"]["vaultId"],
        "ocid1.vault.oc1.iad.b5re4wdnaabc.abuwcljr..."
    );
    assert_eq!(
        create["body"]["keyId"],
        "ocid1.key.oc1.iad.b5re4wdnaabc.abuwcljr..."
    );
    rec.assert_absent(&["oracle-secret-123", &b64("oracle-secret-123")]);

    // The configuration block's optional `profile:` reaches the CLI as --profile.
    let config = oci_config("      profile: TEAM\n");
    p.write_allowed_config(&config);
    p.envref(&[
        "secret",
        "set",
        "team_key",
        "--backend",
        "oci",
        "--value",
        "t-Secr3t",
    ])
    .ok();
    assert_eq!(
        p.envref(&["secret", "get", "team_key", "--backend", "oci"])
            .ok()
            .stdout,
        "t-Secr3t\n"
    );
    assert!(
        rec.lines()
            .iter()
            .rev()
            .take(3)
            .all(|l| l.contains("--profile TEAM")),
        "{:#?}",
        rec.lines()
    );
    p.write_allowed_config(&oci_config("      profile: NOBODY\n"));
    let err = p
        .envref(&["secret", "get", "team_key", "--backend", "oci"])
        .fails(1);
    assert!(
        err.stderr.contains("Profile 'NOBODY' not found"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("oci setup config"), "{}", err.stderr);
}

#[test]
fn oci_vault_config_errors_not_found_and_failures() {
    let Some(oci) = oci() else { return };
    // A missing required option is a config error naming it.
    let config = format!(
        "project: my-app\nbackends:\n  - name: oci\n    type: oci-vault\n    config:\n      vault_id: {VAULT_ID}\n      compartment_id: {COMPARTMENT_ID}\n      command: {}\n",
        recorder().display()
    );
    let (p, rec) = oci.project(&config, "A=ref://secrets/a\n");
    let err = p.envref(&["resolve"]).fails(1);
    assert!(err.stderr.contains("key_id is required"), "{}", err.stderr);
    assert!(rec.lines().is_empty(), "no CLI call with an invalid config");

    // Not found is the service's NotAuthorizedOrNotFound (exit 1, ServiceError JSON).
    p.write_allowed_config(&oci_config(""));
    let err = p
        .envref(&["secret", "get", "a", "--backend", "oci"])
        .fails(1);
    assert!(
        err.stderr.contains("oci: secret not found: a"),
        "{}",
        err.stderr
    );
    let getters = oci.requests();
    assert_eq!(
        getters.last().unwrap()["path"],
        "/20190301/secretbundles/actions/getByName"
    );
    assert_eq!(
        getters.last().unwrap()["query"]["secretName"][0],
        "my-app..a"
    );
    let err = p.envref(&["resolve"]).fails(1);
    assert!(
        err.stderr.contains("A") && !err.stderr.contains("warning"),
        "{}",
        err.stderr
    );
    // An empty vault lists nothing (the CLI prints 0 bytes).
    let list = p.envref(&["secret", "list", "--backend", "oci"]).ok();
    assert_eq!(list.stdout, "");
    p.envref(&["secret", "delete", "a", "--backend", "oci", "--force"])
        .fails(1);

    // A server that does not answer is an error with the CLI's own message, not "not found".
    let p = p.env(
        "OCI_CLI_ENDPOINT",
        format!("http://127.0.0.1:{}", free_port()),
    );
    let start = Instant::now();
    let err = p
        .envref(&["secret", "get", "a", "--backend", "oci"])
        .fails(1);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "no retries: {:?}",
        start.elapsed()
    );
    assert!(
        err.stderr
            .contains("oci: oci secrets secret-bundle get-secret-bundle-by-name: RequestException"),
        "{}",
        err.stderr
    );
    assert!(!err.stderr.contains("not found"), "{}", err.stderr);
    let err = p.envref(&["resolve"]).fails(1);
    assert!(err.stderr.contains("RequestException"), "{}", err.stderr);

    // A missing executable: the install hint.
    p.write_allowed_config(
        &format!(
            "project: my-app\nbackends:\n  - name: oci\n    type: oci-vault\n    config:\n      vault_id: {VAULT_ID}\n      compartment_id: {COMPARTMENT_ID}\n      key_id: {KEY_ID}\n      command: /nonexistent/oci\n"
        ),
    );
    let err = p
        .envref(&["secret", "get", "a", "--backend", "oci"])
        .fails(1);
    assert!(
        err.stderr.contains("executable /nonexistent/oci not found"),
        "{}",
        err.stderr
    );
    assert!(err.stderr.contains("install the OCI CLI"), "{}", err.stderr);
}

// ---------------------------------------------------------------------------------------------
// Raw references (issue 14): `ref://<backend>//<name>` reads a secret by its own name in the
// store, outside the project namespace and the backend's prefix. Each secret here is created by
// the vendor's own tool (aws, bao, oci) or by hand, never by envref.

/// `envref resolve --format json` of `.env` as JSON, for a `.env` that resolves.
fn resolved(p: &Project) -> serde_json::Value {
    let out = p.envref(&["resolve", "--format", "json"]).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

/// `envref resolve` of a `.env` holding only `line`: it fails with exit 1; its stderr.
fn resolve_error(p: &Project, line: &str) -> String {
    p.write(".env", &format!("{line}\n"));
    p.envref(&["resolve"]).fails(1).stderr
}

/// A raw-reference `ssm` project (prefix `/my-api/production`) whose parameters someone else
/// created with `aws ssm put-parameter`, each given as `NAME TYPE VALUE`.
fn ssm_raw_project(aws: &Aws, env: &str, params: &[&str]) -> (Project, Recorded) {
    let (p, rec) = aws.project(&ssm_config("      prefix: /my-api/production\n"), env);
    for param in params {
        let [name, kind, value] = param.splitn(3, ' ').collect::<Vec<_>>()[..] else {
            panic!("{param} is not NAME TYPE VALUE")
        };
        let put = [
            "ssm",
            "put-parameter",
            "--name",
            name,
            "--type",
            kind,
            "--value",
            value,
        ];
        aws.cli(&p, &put).ok();
    }
    (p, rec)
}

#[test]
fn raw_ssm_parameters_created_by_the_aws_cli_resolve_by_their_own_name() {
    let Some(aws) = aws() else { return };
    let env = "DATABASE_URL=ref://ssm//myapp/prod/DATABASE_URL\nLOG_LEVEL=ref://ssm//myapp/prod/LOG_LEVEL\nLEGACY=ref://ssm//LEGACY_TOKEN\n";
    let (p, rec) = ssm_raw_project(
        &aws,
        env,
        &[
            "/myapp/prod/DATABASE_URL SecureString postgres://app:Secr3t-db@db/app",
            "/myapp/prod/LOG_LEVEL String debug",
            "LEGACY_TOKEN SecureString tok-Secr3t-legacy",
        ],
    );
    let env = resolved(&p);
    assert_eq!(env["DATABASE_URL"], "postgres://app:Secr3t-db@db/app");
    assert_eq!(env["LOG_LEVEL"], "debug");
    assert_eq!(env["LEGACY"], "tok-Secr3t-legacy");
    // One batch, the parameters' own names: no prefix, no project.
    let calls = rec.lines();
    assert_eq!(
        calls,
        ["ssm get-parameters --names LEGACY_TOKEN /myapp/prod/DATABASE_URL /myapp/prod/LOG_LEVEL --with-decryption --output json "]
    );
    // With a profile, still asked once, by the same name (no profile scope).
    p.write(".env.staging", "");
    let out = p
        .envref(&["resolve", "-P", "staging", "--format", "json"])
        .ok();
    assert!(out.stdout.contains("tok-Secr3t-legacy"), "{}", out.stderr);
    assert_eq!(rec.lines()[1..], calls);
    rec.assert_absent(&["Secr3t"]);
}

#[test]
fn raw_ssm_missing_and_impossible_names_are_clear_and_never_written() {
    let Some(aws) = aws() else { return };
    let (p, rec) = ssm_raw_project(&aws, "", &["/myapp/prod/LOG_LEVEL String debug"]);
    let err = resolve_error(&p, "GONE=ref://ssm//myapp/prod/NOPE");
    assert!(
        err.contains("GONE: ref://ssm//myapp/prod/NOPE: ssm: not found"),
        "{err}"
    );
    let status = p.envref(&["status"]).fails(1);
    let fix = "fix: create myapp/prod/NOPE in backend ssm with that store's own tool";
    assert!(status.stdout.contains(fix), "{}", status.stdout);
    // A name SSM cannot hold is refused by envref, without a call.
    let calls = rec.lines().len();
    let err = resolve_error(&p, "BAD=ref://ssm//myapp/db#password");
    assert!(
        err.contains("myapp/db#password is not an SSM parameter name (it contains '#')"),
        "{err}"
    );
    // Raw names are read-only: `secret set` refuses before any call.
    let set = [
        "secret",
        "set",
        "/myapp/prod/LOG_LEVEL",
        "--backend",
        "ssm",
        "--value",
        "x",
    ];
    let err = p.envref(&set).fails(1);
    assert!(err.stderr.contains("read-only"), "{}", err.stderr);
    assert_eq!(rec.lines().len(), calls);
    let unchanged = aws.cli(
        &p,
        &["ssm", "get-parameter", "--name", "/myapp/prod/LOG_LEVEL"],
    );
    assert!(unchanged.ok().stdout.contains("\"debug\""));
}

/// A `hcvault` project whose store an operator filled with `bao` (each command split at spaces).
fn bao_raw_project(bao: &Bao, env: &str, admin: &[&str]) -> (Project, Recorded) {
    let config = hc_config(&format!(
        "      addr: {}\n      token: {ROOT_TOKEN}\n",
        bao.server.url()
    ));
    let (p, rec) = record(Project::with(&config, env), &bao.vault);
    for command in admin {
        bao.cli(&p, &command.split(' ').collect::<Vec<_>>()).ok();
    }
    (p, rec)
}

const BAO_DB: &str = "kv put secret/myapp/db username=app-user password=Secr3t-pw";

#[test]
fn raw_openbao_paths_and_fields_created_by_bao_kv_put() {
    let Some(bao) = bao() else { return };
    let env = "DB_USER=ref://hcvault//secret/myapp/db#username\nDB_PASS=ref://hcvault//secret/myapp/db#password\nAPI=ref://hcvault//secret/myapp/api\nTEAM=ref://hcvault//team/kv/stripe#key\nV1=ref://hcvault//legacy/app#token\n";
    let (p, rec) = bao_raw_project(
        &bao,
        env,
        &[
            BAO_DB,
            "kv put secret/myapp/api token=tok-Secr3t",
            // A mount of two segments: the CLI finds it, as it does for an operator.
            "secrets enable -path=team/kv kv-v2",
            "kv put team/kv/stripe key=sk-Secr3t other=o",
            // A KV v1 mount answers the fields without v2's `data`/`metadata` wrapping.
            "secrets enable -path=legacy -version=1 kv",
            "kv put legacy/app token=v1-Secr3t user=u",
        ],
    );
    let env = resolved(&p);
    assert_eq!(env["DB_USER"], "app-user");
    assert_eq!(env["DB_PASS"], "Secr3t-pw");
    assert_eq!(env["API"], "tok-Secr3t", "the only field, without #field");
    assert_eq!(env["TEAM"], "sk-Secr3t");
    assert_eq!(env["V1"], "v1-Secr3t");
    // One read per distinct path, by the path as `vault kv get` takes it.
    let mut calls: Vec<String> = rec.lines().iter().map(|l| l.trim_end().into()).collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            "kv get -format=json legacy/app",
            "kv get -format=json secret/myapp/api",
            "kv get -format=json secret/myapp/db",
            "kv get -format=json team/kv/stripe"
        ]
    );
    rec.assert_absent(&["Secr3t", "app-user", ROOT_TOKEN]);
}

#[test]
fn raw_openbao_missing_fields_and_paths_say_what_and_how_never_a_value() {
    let Some(bao) = bao() else { return };
    let (p, _rec) = bao_raw_project(&bao, "", &[BAO_DB]);
    let cases: [(&str, &[&str]); 4] = [
        (
            "DB=ref://hcvault//secret/myapp/db",
            &[
                "secret/myapp/db has 2 fields and none is `value` (its fields: password, username)",
                "hint: name the field after `#`: ref://hcvault//secret/myapp/db#password",
            ],
        ),
        (
            "DB=ref://hcvault//secret/myapp/db#user",
            &["secret/myapp/db has no field `user` (its fields: password, username)"],
        ),
        (
            "DB=ref://hcvault//secret/myapp/nope#user",
            &["DB: ref://hcvault//secret/myapp/nope#user: hcvault: not found"],
        ),
        (
            "DB=ref://hcvault//secret#user",
            &["secret#user is not <mount>/<path>[#<field>]"],
        ),
    ];
    for (line, wanted) in cases {
        let err = resolve_error(&p, line);
        for w in wanted {
            assert!(err.contains(w), "{line}: {err}");
        }
        assert!(
            !err.contains("Secr3t") && !err.contains("app-user"),
            "{err}"
        );
    }
}

#[test]
fn raw_oci_secret_created_by_the_oci_cli_resolves_by_its_name() {
    let Some(oci) = oci() else { return };
    let (p, _rec) = oci.project(&oci_config(""), "STRIPE=ref://oci//Stripe-Key.v2\n");
    let mut create = p.command(&oci.oci);
    create.args([
        "vault",
        "secret",
        "create-base64",
        "-c",
        COMPARTMENT_ID,
        "--vault-id",
        VAULT_ID,
        "--key-id",
        KEY_ID,
        "--secret-name",
        "Stripe-Key.v2",
        "--secret-content-content",
        &b64("sk_live-Secr3t-oci"),
    ]);
    support::run(create).ok();
    assert_eq!(resolved(&p)["STRIPE"], "sk_live-Secr3t-oci");
    let last = oci.requests().pop().unwrap();
    assert_eq!(last["path"], "/20190301/secretbundles/actions/getByName");
    // The name as it is, not envref's mapping of a key (which would be `Stripe-Key.-v2`).
    assert_eq!(last["query"]["secretName"][0], "Stripe-Key.v2");
    let err = resolve_error(&p, "GONE=ref://oci//Nope");
    assert!(err.contains("GONE") && err.contains("not found"), "{err}");
    let err = resolve_error(&p, "BAD=ref://oci//myapp/db");
    assert!(err.contains("myapp/db is not an OCI secret name"), "{err}");
}

#[test]
fn raw_plugin_names_reach_the_plugin_verbatim_in_one_batch() {
    let have = support::have("jq") && support::have("flock");
    if !available("plugins", have) {
        return;
    }
    let config = format!(
        "project: app\nbackends:\n  - name: team\n    type: plugin\n    config: {{command: {}}}\n",
        support::plugin("envref-backend-filestore").display()
    );
    let env = "A=ref://team//legacy/TOKEN\nB=ref://team//Other.Name:v2@x\nC=ref://team/c\n";
    let p = Project::with(&config, env);
    p.allow();
    let (store, log) = (p.root.join("store.json"), p.root.join("plugin.log"));
    std::fs::write(
        &store,
        r#"{"legacy/TOKEN": "t", "Other.Name:v2@x": "o", "app/c": "c", "app/legacy/TOKEN": "wrong"}"#,
    )
    .unwrap();
    let p = p
        .env("ENVREF_FILESTORE", store.display().to_string())
        .env("ENVREF_FILESTORE_LOG", log.display().to_string());
    let env = resolved(&p);
    assert_eq!(
        (&env["A"], &env["B"], &env["C"]),
        (&"t".into(), &"o".into(), &"c".into())
    );
    let mut calls: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        ["get app/c", "get_many Other.Name:v2@x legacy/TOKEN"]
    );
}

#[test]
fn raw_vault_names_are_keys_outside_the_project_namespace() {
    let p = Project::with(
        "project: my-app\nbackends:\n  - name: vault\n    type: vault\n",
        "OWN=ref://vault//shared/github_token\nNS=ref://vault/github_token\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", "correct horse");
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    // Written under another project's namespace; this one reads it by its full name.
    p.write(
        ".envref.yaml",
        "project: shared\nbackends:\n  - name: vault\n    type: vault\n",
    );
    p.envref(&["secret", "set", "github_token", "--value", "gh-Secr3t"])
        .ok();
    p.write(
        ".envref.yaml",
        "project: my-app\nbackends:\n  - name: vault\n    type: vault\n",
    );
    let err = p.envref(&["resolve"]).fails(1);
    assert!(
        err.stderr.contains("NS") && !err.stderr.contains("OWN"),
        "{}",
        err.stderr
    );
    p.write(".env", "OWN=ref://vault//shared/github_token\n");
    assert_eq!(resolved(&p)["OWN"], "gh-Secr3t");
    p.write(".env.ci", "");
    let out = p.envref(&["resolve", "-P", "ci", "--format", "json"]).ok();
    assert!(out.stdout.contains("gh-Secr3t"), "{}", out.stderr);
}

#[test]
fn raw_readme_example_runs_as_written() {
    if !available("plugins", support::have("jq") && support::have("flock")) {
        return;
    }
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    let section = &readme[readme
        .find("## Raw references: secrets you already have")
        .expect("the README has the raw references section")..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];
    let p = Project::new();
    let bin = Path::new(support::ENVREF).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut sh = p.command("bash");
    sh.args(["-e", "-c", script])
        .current_dir(support::root())
        .env("PATH", path)
        .env("TMPDIR", &p.root);
    let out = support::run(sh).ok();
    assert_eq!(out.stdout, "STRIPE_KEY=sk_test_51Hx\n", "{}", out.stderr);
}
