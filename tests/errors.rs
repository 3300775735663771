//! Issue 12, "Errors with kinds": errors that used to be swallowed surface, and `-v` shows the
//! cause an error came from, once, after the message.

use crate::support;

use support::{run, Project, ENVREF};

/// `envref <args>` started in a directory that is removed before it runs.
fn in_removed_dir(p: &Project, args: &str) -> support::Run {
    let mut c = p.command("sh");
    c.args([
        "-c",
        &format!("mkdir gone && cd gone && rmdir ../gone && exec \"$0\" {args}"),
        ENVREF,
    ]);
    run(c)
}

#[test]
fn an_unreadable_current_directory_is_an_error_not_dot() {
    let p = Project::with("project: app\n", "A=1\n");
    // Before, `.` stood in for it, and `.` (the removed directory) has no project.
    let r = in_removed_dir(&p, "list").fails(1);
    assert!(
        r.stderr
            .starts_with("error: cannot read the current directory: no such file or directory\n"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("caused by"), "{}", r.stderr);
    // -C needs no current directory.
    let dir = p.dir.display().to_string();
    let r = in_removed_dir(&p, &format!("-C '{dir}' list")).ok();
    assert!(r.stdout.contains("A=1"), "{}", r.stdout);
}

#[test]
fn verbose_shows_the_cause_once_after_the_message() {
    let p = Project::with("project: app\n", "A=1\n");
    let quiet = p
        .envref(&["profile", "create", "staging", "--from", "missing.env"])
        .fails(1);
    let verbose = p
        .envref(&[
            "-v",
            "profile",
            "create",
            "staging",
            "--from",
            "missing.env",
        ])
        .fails(1);
    let message = "missing.env: no such file or directory";
    for r in [&quiet, &verbose] {
        assert!(r.stderr.contains(message), "{}", r.stderr);
        assert_eq!(r.stderr.matches("no such file or directory").count(), 1);
    }
    assert!(!quiet.stderr.contains("caused by"), "{}", quiet.stderr);
    // The OS's own wording, with the errno: "No such file or directory (os error 2)".
    let cause = std::io::Error::from_raw_os_error(2).to_string();
    assert_eq!(
        verbose.stderr.matches("caused by:").count(),
        1,
        "{}",
        verbose.stderr
    );
    assert!(
        verbose.stderr.contains(&format!("  caused by: {cause}\n")),
        "{}",
        verbose.stderr
    );
    // The cause comes after the message and before the hint, if any.
    let at = |s: &str| verbose.stderr.find(s).unwrap();
    assert!(at(message) < at("caused by:"), "{}", verbose.stderr);
}
