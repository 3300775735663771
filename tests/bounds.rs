//! Hostile but plausible `.env` files through the real binary: deep chains, deep defaults,
//! huge cycles, doubling values and many bad lines give an answer or a short, clear error,
//! never a crash, a hang or megabytes of output. Sizes, not times, are asserted.

use crate::support;

use support::Project;

const CONFIG: &str = "project: app\n";

fn project(env: &str) -> Project {
    Project::with(CONFIG, env)
}

#[test]
fn hundred_thousand_deep_chains_resolve() {
    let n = 100_000;
    // Forward: each key uses the one defined after it.
    let mut forward: String = (0..n)
        .map(|i| format!("C_{i}=${{C_{}}}\n", i + 1))
        .collect();
    forward.push_str(&format!("C_{n}=end\n"));
    let out = project(&forward).envref(&["resolve"]).ok();
    assert_eq!(out.stdout.lines().count(), n + 1);
    assert!(
        out.stdout.lines().all(|l| l.ends_with("=end")),
        "every key has the last value"
    );
    // Reverse: each key uses the one defined before it.
    let mut reverse = String::from("C_0=start\n");
    reverse.extend((1..=n).map(|i| format!("C_{i}=${{C_{}}}\n", i - 1)));
    let out = project(&reverse).envref(&["resolve"]).ok();
    assert_eq!(out.stdout.lines().count(), n + 1);
    assert!(out.stdout.lines().all(|l| l.ends_with("=start")));
}

#[test]
fn hundred_thousand_nested_defaults_are_an_error_not_a_crash() {
    let n = 100_000;
    let text = format!("X={}v{}\n", "${UNSET_NEST:-".repeat(n), "}".repeat(n));
    let out = project(&text).envref(&["resolve"]).fails(1);
    assert!(out.stderr.contains(".env:1:"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("X: `${…}` defaults nested more than 32 deep"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.len() < 2_000, "{} bytes", out.stderr.len());
    // 32 levels are fine.
    let ok = format!("X={}v{}\n", "${UNSET_NEST:-".repeat(32), "}".repeat(32));
    assert_eq!(project(&ok).envref(&["resolve"]).ok().stdout, "X=v\n");
}

/// A cycle of `n` keys is one message naming the first members and counting the rest; the
/// members are then listed briefly, capped like every report.
#[test]
fn big_cycles_are_reported_once_and_small() {
    for n in [3_000usize, 10_000] {
        let text: String = (0..n)
            .map(|i| format!("K_{i}=${{K_{}}}\n", (i + 1) % n))
            .collect();
        let p = project(&text);
        for cmd in ["resolve", "list"] {
            let out = p.envref(&[cmd]).fails(1);
            assert_eq!(
                out.stderr.matches("interpolation cycle").count(),
                1,
                "{cmd}: {}",
                out.stderr
            );
            let cycle = format!(
                "interpolation cycle of {n} variables: K_0 -> K_1 -> K_2 -> K_3 -> K_4 -> K_5 -> K_6 -> K_7 -> K_8 -> K_9 -> … and {} more -> K_0",
                n - 10
            );
            assert!(out.stderr.contains(&cycle), "{cmd}: {}", out.stderr);
            assert!(
                out.stderr.contains(&format!("… and {} more\n", n - 20)),
                "{cmd}: {}",
                out.stderr
            );
            assert!(
                out.stderr.len() < 5_000,
                "{cmd}: {} bytes",
                out.stderr.len()
            );
        }
    }
}

/// Like the 639-byte file of the issue: 40 keys, each twice the one before. The first key over
/// the cap is named; its value is not shown.
#[test]
fn doubling_values_error_naming_the_key() {
    let mut text = String::from("A_0=abc\n");
    text.extend((1..40).map(|i| format!("A_{i}=${{A_{}}}${{A_{}}}\n", i - 1, i - 1)));
    assert!(text.len() < 800, "a small file");
    let p = project(&text);
    for cmd in ["resolve", "list"] {
        let out = p.envref(&[cmd]).fails(1);
        // 3 bytes × 2^19 is the first value over 1 MiB.
        assert!(
            out.stderr
                .contains(".env:20:1: the value of A_19 would exceed 1 MiB"),
            "{cmd}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(".env:21:6: uses A_19, which could not be evaluated"),
            "{cmd}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("abc"), "value text in: {}", out.stderr);
        assert!(
            out.stderr.len() < 5_000,
            "{cmd}: {} bytes",
            out.stderr.len()
        );
    }
}

/// Lines without `=` (an unquoted PEM body, a pasted token list) give the first 20 errors and
/// a count of the rest, none quoting the line.
#[test]
fn many_bad_lines_give_a_capped_report() {
    for n in [10_000usize, 100_000] {
        let text: String = (0..n).map(|i| format!("SECRETtoken{i}\n")).collect();
        let out = project(&text).envref(&["list"]).fails(1);
        assert_eq!(
            out.stderr.matches("expected KEY=VALUE").count(),
            20,
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!(".env:{}:1: expected KEY=VALUE", 20)),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!("… and {} more", n - 20)),
            "{}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("SECRET"),
            "value text in: {}",
            out.stderr
        );
        assert!(out.stderr.lines().count() < 30, "{}", out.stderr);
    }
    // Positions stay right after a multi-line quoted value.
    let out = project("A=\"x\ny\"\nBAD\nB=1\nBAD2\n")
        .envref(&["list"])
        .fails(1);
    assert!(
        out.stderr.contains(".env:3:1: expected") && out.stderr.contains(".env:5:1: expected"),
        "{}",
        out.stderr
    );
}

/// `X=${A}${B}`, where A and B are references that do not resolve: both are reported for X.
#[test]
fn every_failure_through_variables_is_reported() {
    let p = Project::with(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", "bounds-test-passphrase");
    p.envref(&["vault", "init", "-q"]).ok();
    p.write(
        ".env",
        "A=ref://secrets/first_missing\nB=ref://secrets/second_missing\nX=${A}${B}\n",
    );
    let out = p.envref(&["resolve"]).fails(1);
    let x = out
        .stderr
        .lines()
        .skip_while(|l| !l.contains(": X: "))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        x.contains("ref://secrets/first_missing") && x.contains("ref://secrets/second_missing"),
        "{}",
        out.stderr
    );
}
