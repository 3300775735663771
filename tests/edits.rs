//! Edits keep every byte they should, through the real binary: `set` through symlinks and on
//! CRLF files, concurrent edits under the edit lock, output formats that round-trip every byte
//! their grammar carries (a generated corpus), and `init` on awkward directories and files.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use support::{run, Project};

fn project() -> Project {
    Project::with("project: app\n", "")
}

#[cfg(unix)]
#[test]
fn set_writes_through_a_symlinked_env() {
    use std::os::unix::fs::PermissionsExt;
    let p = project();
    p.write("../shared/team.env", "A=1\n");
    let target = p.dir.join("../shared/team.env");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(p.dir.join(".env")).unwrap();
    std::os::unix::fs::symlink("../shared/team.env", p.dir.join(".env")).unwrap();

    p.envref(&["set", "B=2"]).ok();
    p.envref(&["set", "A=3"]).ok();

    assert!(
        std::fs::symlink_metadata(p.dir.join(".env"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "A=3\nB=2\n");
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600,
        "the target's mode is kept"
    );
    let names = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&p.dir.join("../shared")),
        ["team.env"],
        "no temp file left next to the target"
    );
    assert!(
        !names(&p.dir).iter().any(|n| n.ends_with(".tmp")),
        "no temp file left next to the link"
    );
}

#[test]
fn set_keeps_crlf_line_endings() {
    for (before, after) in [
        ("A=1\r\nB=2\r\n", "A=9\r\nB=2\r\nC=3\r\n"),
        // No final line ending: the new line still gets the file's.
        ("A=1\r\nB=2", "A=9\r\nB=2\r\nC=3\r\n"),
        (
            "# c\r\n\r\nA='1'  # keep\r\n",
            "# c\r\n\r\nA=9  # keep\r\nC=3\r\n",
        ),
    ] {
        let p = Project::with("project: app\n", before);
        p.envref(&["set", "C=3", "A=9"]).ok();
        assert_eq!(p.read(".env"), after, "from {before:?}");
        p.envref(&["get", "C"]).ok();
    }
}

/// 8 processes each set 50 keys in one `.env` at the same time: with read-modify-rename and
/// no lock, some updates are lost.
#[test]
fn concurrent_sets_lose_no_update() {
    let p = project();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let cmds: Vec<Command> = (0..50)
                .map(|i| p.envref_cmd(&["set", &format!("K_{w}_{i}=v{w}.{i}")]))
                .collect();
            std::thread::spawn(move || {
                for c in cmds {
                    run(c).ok();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let text = p.read(".env");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 400, "updates were lost");
    for w in 0..8 {
        for i in 0..50 {
            assert!(
                lines.contains(&format!("K_{w}_{i}=v{w}.{i}").as_str()),
                "K_{w}_{i} is missing"
            );
        }
    }
}

/// The same for `.envref.yaml` edits (config_edit): 4 processes register 10 profiles each.
#[test]
fn concurrent_config_edits_lose_no_update() {
    let p = project();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let cmds: Vec<Command> = (0..10)
                .map(|i| p.envref_cmd(&["profile", "create", &format!("p{w}x{i}"), "--register"]))
                .collect();
            std::thread::spawn(move || {
                for c in cmds {
                    run(c).ok();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let config = p.read(".envref.yaml");
    for w in 0..4 {
        for i in 0..10 {
            assert!(
                config.contains(&format!("  p{w}x{i}:\n")),
                "profile p{w}x{i} is missing from\n{config}"
            );
        }
    }
}

#[test]
fn nul_is_an_error_naming_the_key_where_the_format_cannot_carry_it() {
    let p = Project::with("project: app\n", "OK=1\nBLOB=\"CANARY_SECRET\0tail\"\n");
    for format in ["shell", "dotenv"] {
        let r = p.envref(&["resolve", "--format", format]).fails(1);
        assert!(
            r.stderr.contains("BLOB's value contains a NUL byte"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains(&format!("--format {format} cannot carry")),
            "{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("CANARY") && r.stdout.is_empty(),
            "value text leaked: {}",
            r.stderr
        );
    }
    // JSON carries it.
    let r = p.envref(&["resolve", "--format", "json"]).ok();
    let map: BTreeMap<String, String> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(map["BLOB"], "CANARY_SECRET\0tail");
}

#[test]
fn invalid_utf8_env_is_rejected_at_its_position() {
    let p = project();
    std::fs::write(p.dir.join(".env"), b"A=1\nB=caf\xe9 CANARY\n").unwrap();
    for args in [&["resolve"][..], &["set", "C=1"]] {
        let r = p.envref(args).fails(1);
        assert!(
            r.stderr.contains(".env:2:6: file is not valid UTF-8"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("CANARY"), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read(p.dir.join(".env")).unwrap(),
        b"A=1\nB=caf\xe9 CANARY\n",
        "set must not touch the file"
    );
}

#[test]
fn init_appends_to_a_gitignore_that_is_not_utf8() {
    for before in [&b"caf\xe9/\n"[..], b"caf\xe9/", b"x\r\n"] {
        let p = Project::new();
        std::fs::write(p.dir.join(".gitignore"), before).unwrap();
        let r = p.envref(&["init"]).ok();
        let eol: &[u8] = if before.ends_with(b"\r\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        let mut expected = before.to_vec();
        if !expected.ends_with(b"\n") {
            expected.extend_from_slice(eol);
        }
        expected.extend_from_slice(b".env.local");
        expected.extend_from_slice(eol);
        assert_eq!(std::fs::read(p.dir.join(".gitignore")).unwrap(), expected);
        assert!(r.stderr.contains("update  .gitignore"), "{}", r.stderr);
        // Run again: already listed, nothing changes.
        p.envref(&["init"]).ok();
        assert_eq!(std::fs::read(p.dir.join(".gitignore")).unwrap(), expected);
    }
}

#[test]
fn init_derives_a_valid_project_name_from_the_directory() {
    for (dir, name) in [
        ("My Project", "my-project"),
        ("  été: x ", "t-x"),
        ("...", "app"),
    ] {
        let p = Project::new();
        let d = p.dir.join(dir);
        std::fs::create_dir(&d).unwrap();
        let mut c = p.envref_cmd(&["init"]);
        c.current_dir(&d);
        run(c).ok();
        let config = std::fs::read_to_string(d.join(".envref.yaml")).unwrap();
        assert!(config.contains(&format!("\nproject: {name}\n")), "{config}");
        // Later commands accept it.
        let mut c = p.envref_cmd(&["list"]);
        c.current_dir(&d);
        run(c).ok();
    }
}

#[test]
fn init_rejects_a_project_name_that_would_break_the_config() {
    for bad in ["a: b", "x\nbackends: []", "my app", "a/b", ".."] {
        let p = Project::new();
        let r = p.envref(&["init", "--project", bad]).fails(1);
        assert!(r.stderr.contains("--project"), "{bad:?}: {}", r.stderr);
        assert!(
            !p.dir.join(".envref.yaml").exists(),
            "{bad:?}: a config was written"
        );
    }
    let p = Project::new();
    p.envref(&["init", "--project", "my-app.v2"]).ok();
    assert!(p.read(".envref.yaml").contains("\nproject: my-app.v2\n"));
}

// ------------------------------------------------------------ output round-trips

/// Characters that stress quoting: CR, LF, CRLF, quotes, `$`, backslashes, `#`, tabs, blanks,
/// multi-byte text; plus any other non-NUL character.
fn value() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "\r", "\n", "\r\n", "'", "\"", "`", "$", "${A}", "$$", "\\", "\\n", "#", " # x", "\t", " ",
        "=", "é", "😀", "'\\''",
    ]);
    let any = any::<char>()
        .prop_filter("no NUL", |c| *c != '\0')
        .prop_map(String::from);
    prop::collection::vec(
        prop_oneof![3 => special.prop_map(str::to_string), 1 => any],
        0..12,
    )
    .prop_map(|v| v.concat())
}

/// `.env` source for a literal value, written independently of envref's own renderer: double
/// quotes with the documented escapes.
fn env_source(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn resolve_json(p: &Project) -> BTreeMap<String, String> {
    let r = p.envref(&["resolve", "--format", "json"]).ok();
    serde_json::from_str(&r.stdout).expect("json output parses")
}

fn roundtrip(values: &[String], bash: bool) -> Result<(), TestCaseError> {
    let env: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("K{i}={}\n", env_source(v)))
        .collect();
    let p = Project::with("project: app\n", &env);
    let expected: BTreeMap<String, String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), v.clone()))
        .collect();
    // json, read back by serde_json (this also checks the corpus went in as intended).
    prop_assert_eq!(&resolve_json(&p), &expected);

    // dotenv, read back by envref's own .env parser.
    let dotenv = p.envref(&["resolve", "--format", "dotenv"]).ok().stdout;
    let q = Project::with("project: app\n", &dotenv);
    prop_assert_eq!(&resolve_json(&q), &expected, "dotenv output:\n{}", dotenv);

    // shell, read back by a real bash.
    if bash {
        let shell = p.envref(&["resolve", "--format", "shell"]).ok().stdout;
        let names: Vec<String> = expected.keys().map(|k| format!("\"${k}\"")).collect();
        let script = format!("eval \"$ENVREF_OUT\"; printf '%s\\0' {}", names.join(" "));
        let out = Command::new("bash")
            .args(["-c", &script])
            .env("ENVREF_OUT", &shell)
            .output()
            .unwrap();
        prop_assert!(
            out.status.success(),
            "bash failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
        for (i, v) in values.iter().enumerate() {
            prop_assert_eq!(
                got[i],
                v.as_bytes(),
                "K{} through bash; shell output:\n{}",
                i,
                shell
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_output_format_round_trips_its_values(values in prop::collection::vec(value(), 1..6)) {
        let bash = support::available("bash", support::have("bash"));
        roundtrip(&values, bash)?;
    }

    /// Invalid UTF-8 anywhere: values are Rust strings, so the reader rejects the file, naming
    /// the line and column of the first bad byte.
    #[test]
    fn invalid_utf8_is_rejected_with_its_position(
        lines in prop::collection::vec("[A-Z]{1,3}=[a-zé ]{0,6}", 1..5),
        line in any::<prop::sample::Index>(),
        bad in 0x80u8..=0xff,
    ) {
        let l = line.index(lines.len());
        let mut bytes = Vec::new();
        let mut col = 0;
        for (i, text) in lines.iter().enumerate() {
            bytes.extend_from_slice(text.as_bytes());
            if i == l {
                col = text.chars().count() + 1;
                // A lead byte followed by `\n` (or a lone continuation byte) is never valid.
                bytes.push(bad);
            }
            bytes.push(b'\n');
        }
        let p = project();
        std::fs::write(p.dir.join(".env"), &bytes).unwrap();
        let r = p.envref(&["resolve", "--format", "json"]).fails(1);
        let at = format!(".env:{}:{col}: file is not valid UTF-8", l + 1);
        prop_assert!(r.stderr.contains(&at), "expected {} in {}", at, r.stderr);
    }
}

#[test]
fn dotenv_output_keeps_crlf_inside_values() {
    let p = Project::with(
        "project: app\n",
        "CERT=\"-----BEGIN-----\\r\\nabc\\r\\n-----END-----\\r\\n\"\n",
    );
    roundtrip(
        &["-----BEGIN-----\r\nabc\r\n-----END-----\r\n".to_string()],
        support::have("bash"),
    )
    .unwrap();
    let dotenv = p.envref(&["resolve", "--format", "dotenv"]).ok().stdout;
    assert!(dotenv.contains("\\r\\n"), "{dotenv}");
}
