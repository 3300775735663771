//! No message prints value text (issue 10 §3). A corpus of env files plants a canary in every
//! position a value can take; every command, with and without `-v`, runs over each file through
//! the real binary, and the canary may appear only where the user asked for the value: on the
//! stdout of `list`, `resolve` and `get` of a value that evaluates to it. Each case also asserts
//! the error or warning it targets, so a case that no longer reaches its message path fails
//! instead of passing silently.

use crate::support;

use support::{Project, Run};

/// Planted in values; no message may contain it.
const CANARY: &str = "Kx7vCanaryQ9";
const PASS: &str = "correct horse";

/// The marker of a line-level parse error: no `=` on the line.
const NO_EQUALS: &str = "found a line without `=`";
/// Both the unset-variable warning and the `${…}` syntax errors say how to keep `$`.
const KEEP_DOLLAR: &str = "to keep a `$` literal, single-quote the value or write `$$`";

struct Case {
    what: &'static str,
    env: String,
    /// The key to `get` (the one whose value holds the canary).
    key: &'static str,
    /// (command, text its stdout+stderr must contain): the message path this case targets.
    reaches: Vec<(&'static str, &'static str)>,
    /// The canary is part of the evaluated value, so `list`, `resolve` and `get` may print
    /// it on stdout (only there).
    value_shows_it: bool,
}

/// Every command of the corpus run, by name; `get` takes the case's key.
const COMMANDS: &[&str] = &[
    "list",
    "resolve",
    "resolve --strict",
    "get",
    "get --resolve",
    "set",
    "status",
    "doctor",
    "validate",
    "audit",
];

/// Commands whose stdout is the values the user asked for.
fn shows_values(command: &str) -> bool {
    ["list", "resolve", "get"].contains(&command.split(' ').next().unwrap())
}

fn args<'a>(command: &'a str, key: &'a str) -> Vec<&'a str> {
    let mut v: Vec<&str> = command.split(' ').collect();
    match v[0] {
        "get" => v.push(key),
        "set" => v.push("NEW_KEY=1"),
        _ => {}
    }
    v
}

/// A file that does not parse: every command must stop with `marker`.
fn parse_error(what: &'static str, env: &str, marker: &'static str) -> Case {
    let reaches = COMMANDS.iter().map(|c| (*c, marker)).collect();
    Case {
        what,
        env: env.replace("{C}", CANARY),
        key: "A",
        reaches,
        value_shows_it: false,
    }
}

fn case(
    what: &'static str,
    key: &'static str,
    env: &str,
    reaches: &[(&'static str, &'static str)],
    value_shows_it: bool,
) -> Case {
    Case {
        what,
        env: env.replace("{C}", CANARY),
        key,
        reaches: reaches.to_vec(),
        value_shows_it,
    }
}

fn corpus() -> Vec<Case> {
    let unset = "the variable at this `$` is not set";
    let strict = "is not set (--strict)";
    vec![
        // A line with no `=`: a pasted token, alone, with a comment, with blanks.
        parse_error("bare token line", "S=ref://secrets/s\nghp_{C}\n", NO_EQUALS),
        parse_error("token line with a comment", "S=ref://secrets/s\nghp_{C} # my token\n", NO_EQUALS),
        parse_error("token line with words", "{C} and more words\n", NO_EQUALS),
        // Unquoted values on lines that are not definitions.
        parse_error("unquoted value after a bad key", "BAD KEY={C}\n", "invalid character in key"),
        parse_error("unquoted value after a key with a colon", "{C}: x={C}\n", "invalid character in key"),
        parse_error("unquoted value, key starts badly", "9{C}={C}\n", "invalid key: keys start with a letter"),
        // An unquoted PEM key pasted into .env: body lines, a `+` in one, padding.
        parse_error(
            "unquoted PEM body",
            "TLS_KEY=-----BEGIN PRIVATE KEY-----\nMIIEv{C}AgEAMA0GCSqGSIb3DQEBAQUABIIEqDCCBKQCAQAC\nAb{C}+/xk{C}==\n-----END PRIVATE KEY-----\n",
            NO_EQUALS,
        ),
        parse_error("unquoted PEM body, invalid key char", "TLS_KEY=-----BEGIN PRIVATE KEY-----\nAb{C}+/xk{C}==\n", "invalid character in key"),
        // Quoted values that do not parse.
        parse_error("single-quoted, unterminated", "A='{C}\nB=2\n", "unterminated single-quoted value for key A"),
        parse_error("single-quoted, text after", "A='x'{C}\n", "unexpected text after the closing quote of A"),
        parse_error("double-quoted, text after", "A=\"x\" {C}\n", "unexpected text after the closing quote of A"),
        parse_error("backtick, unterminated", "A=`{C}\n", "unterminated backtick-quoted value for key A"),
        parse_error("multi-line double-quoted, unterminated", "A=\"line one\n{C}\nline three\n", "unterminated double-quoted value for key A"),
        // Inside `${…}`, and `$` in a value that is really a password.
        parse_error("${…} with an unsupported character", "A=pw${{C}!}\n", "unexpected character in `${…}`"),
        parse_error("${…} unterminated", "A=pw${{C}\n", "unterminated `${`"),
        parse_error("${…} with no name", "A=pw${9{C}}\n", "expected a variable name after `${`"),
        parse_error("${…} in a multi-line double-quoted value", "A=\"line one\n{C}${{C}!}\"\n", "unexpected character in `${…}`"),
        parse_error("invalid reference", "A=ref://secrets/{C} x\n", "invalid reference"),
        parse_error("invalid ${ref://…}", "A=x${ref://secrets/{C} x}\n", "invalid reference"),
        case(
            "after `$` in an unquoted password",
            "DB_PASSWORD",
            "S=ref://secrets/s\nDB_PASSWORD=Tr0ub4dor${C}\n",
            &[("list", unset), ("resolve", unset), ("get", unset), ("resolve --strict", strict)],
            false,
        ),
        case(
            "after `$` in a double-quoted value",
            "A",
            "A=\"pw${C} x\"\n",
            &[("list", unset), ("resolve", KEEP_DOLLAR), ("resolve --strict", strict)],
            false,
        ),
        case("unset ${…}", "A", "A=pre${{C}}post\n", &[("resolve", "A: the variable at this `$`"), ("resolve --strict", strict)], false),
        case(
            "${X:?message}",
            "A",
            "A=${ENVREF_LEAKS_UNSET:?{C}}\n",
            &[("list", "requires is not set or empty"), ("resolve", "requires is not set or empty"), ("status", "requires is not set")],
            false,
        ),
        case("${X:-default}", "A", "A=${ENVREF_LEAKS_UNSET:-{C}}\n", &[], true),
        // Values that parse: shown when asked for, flagged by audit and doctor without the text.
        case(
            "unquoted",
            "API_TOKEN",
            "S=ref://secrets/s\nAPI_TOKEN={C}\n",
            &[("audit", "API_TOKEN"), ("doctor", "API_TOKEN"), ("validate", "API_TOKEN: expected a number")],
            true,
        ),
        case(
            "single-quoted with `$`",
            "DB_PASSWORD",
            "DB_PASSWORD='Tr0ub4dor${C}'\n",
            &[("audit", "DB_PASSWORD"), ("validate", "DB_PASSWORD: expected a number")],
            true,
        ),
        case("double-quoted", "SECRET_KEY", "SECRET_KEY=\"{C} x\"\n", &[("audit", "SECRET_KEY"), ("validate", "SECRET_KEY")], true),
        case(
            "multi-line quoted PEM",
            "TLS_KEY",
            "TLS_KEY=\"-----BEGIN PRIVATE KEY-----\nMIIEv{C}AgEAMA0GCSqGSIb3DQEBAQUABIIEqDCCBKQCAQAC\n-----END PRIVATE KEY-----\"\n",
            &[("audit", "TLS_KEY"), ("validate", "TLS_KEY")],
            true,
        ),
        case(
            "a secret resolved from the vault",
            "CANARY_REF",
            "S=ref://secrets/s\nCANARY_REF=ref://secrets/canary\nDISPLAY=x${CANARY_REF}\n",
            &[("status", "2 of 2 resolved"), ("list", "CANARY_REF=ref://***")],
            true,
        ),
    ]
}

/// The schema makes `validate` check the canary keys' values (and fail on them).
const SCHEMA: &str = r#"{"keys": {"API_TOKEN": {"type": "number"}, "DB_PASSWORD": {"type": "number"}, "SECRET_KEY": {"pattern": "^z$"}, "TLS_KEY": {"type": "url"}, "A": {"type": "port"}}}"#;

fn project() -> Project {
    let p = Project::with(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref(&["secret", "set", "s", "--value", "plain-secret"])
        .ok();
    p.envref(&[
        "secret",
        "set",
        "canary",
        "--value",
        &format!("vault-{CANARY}"),
    ])
    .ok();
    p.write(".env.example", "S=\nA=\nAPI_TOKEN=\n");
    p.write(".env.schema.json", SCHEMA);
    p.write(".gitignore", ".env.local\n");
    p
}

#[test]
fn no_command_prints_value_text() {
    let p = project();
    let (mut leaks, mut unreached) = (Vec::new(), Vec::new());
    for case in corpus() {
        let mut outputs: Vec<(String, Run)> = Vec::new();
        for command in COMMANDS {
            for verbose in [false, true] {
                p.write(".env", &case.env); // `set` may have changed it
                let mut a = args(command, case.key);
                if verbose {
                    a.insert(0, "-v");
                }
                let run = p.envref(&a);
                assert!(
                    run.code.is_some_and(|c| c <= 1),
                    "{}: envref {a:?} crashed or misused: {}",
                    case.what,
                    run.stderr
                );
                if run.stderr.contains(CANARY)
                    || (run.stdout.contains(CANARY)
                        && !(case.value_shows_it && shows_values(command)))
                {
                    leaks.push(format!(
                        "{}: envref {}\nstdout:\n{}stderr:\n{}",
                        case.what,
                        a.join(" "),
                        run.stdout,
                        run.stderr
                    ));
                }
                outputs.push((command.to_string(), run));
            }
        }
        for (command, marker) in &case.reaches {
            for (_, run) in outputs.iter().filter(|(c, _)| c == command) {
                let all = format!("{}{}", run.stdout, run.stderr);
                if !all.contains(marker) {
                    unreached.push(format!(
                        "{}: `envref {command}` does not reach {marker:?}:\n{all}",
                        case.what
                    ));
                }
            }
        }
        // The exemption is not a blind spot: where the value is shown, it really is the canary.
        if case.value_shows_it {
            let (_, get) = outputs.iter().find(|(c, _)| c == "get --resolve").unwrap();
            assert!(
                get.stdout.contains(CANARY),
                "{}: the canary is not in the value: {}",
                case.what,
                get.stdout
            );
        }
    }
    assert!(
        leaks.is_empty(),
        "value text leaked:\n\n{}",
        leaks.join("\n\n")
    );
    assert!(
        unreached.is_empty(),
        "cases that miss their message path:\n\n{}",
        unreached.join("\n\n")
    );
}

/// `set` takes values on the command line; a mistyped one is not echoed back either.
#[test]
fn set_does_not_echo_its_arguments() {
    let p = Project::with("project: app\n", "A=1\n");
    let cases = [
        (vec![format!("ghp_{CANARY}")], "argument 1 is not KEY=VALUE"),
        (
            vec!["A=2".into(), CANARY.into()],
            "argument 2 is not KEY=VALUE",
        ),
        (
            vec![format!("B=pw${{{CANARY}!}}")],
            "unexpected character in `${…}`",
        ),
        (vec![format!("B=\"{CANARY}")], "set B in .env"),
    ];
    for (assignments, marker) in cases {
        let mut a = vec!["set"];
        a.extend(assignments.iter().map(String::as_str));
        let out = p.envref(&a);
        assert!(
            !out.stderr.contains(CANARY) && !out.stdout.contains(CANARY),
            "{a:?}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(out.stderr.contains(marker), "{a:?}: {}", out.stderr);
    }
    assert_eq!(
        p.read(".env"),
        format!("A=1\nB=\"\\\"{CANARY}\"\n"),
        "the last value was stored (quoted), the failed ones were not"
    );
}

/// `config show` masks tokens and the credentials of URLs in every option; `.envref.yaml`
/// errors quote no scalar.
#[test]
fn config_show_masks_url_credentials() {
    let config = format!(
        "project: app\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config:\n      addr: https://admin:{CANARY}@vault.internal:8200\n      token: hvs.{CANARY}\n  - name: ext\n    type: plugin\n    config:\n      command: /opt/x\n"
    );
    let p = Project::with(&config, "A=1\n");
    for format in ["text", "json"] {
        let out = p.envref(&["config", "show", "--format", format]).ok();
        assert!(!out.stdout.contains(CANARY), "{}", out.stdout);
        assert!(
            out.stdout.contains("https://admin:***@vault.internal:8200"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("/opt/x"), "{}", out.stdout);
    }
    // A token where YAML wants a map: the error names the place, not the scalar.
    p.write(".envref.yaml", &format!("project: app\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config: hvs.{CANARY}\n"));
    for command in ["config show", "list", "doctor"] {
        let out = p.envref(&command.split(' ').collect::<Vec<_>>()).fails(1);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains(
                ".envref.yaml:5:13: backends[0].config: invalid type: string, expected a map"
            ),
            "{command}: {all}"
        );
        assert!(
            !out.stderr.contains(CANARY) && !out.stdout.contains(CANARY),
            "{command}: {}{}",
            out.stdout,
            out.stderr
        );
    }
}
