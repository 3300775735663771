//! `envref!("KEY")`: read an environment variable that the project's `.env` files declare.
//!
//! At compile time the key is checked against every layer of the project's env files (for
//! the profile `ENVREF_PROFILE`, else `active_profile`): an undeclared key is a compile error
//! on the string literal, naming the files searched and the closest declared key. No value is
//! ever baked into the binary: the expansion reads the process environment at run time, so
//! run the program under `envref run` or `cargo envref run`.
//!
//! Three forms:
//!
//! ```ignore
//! let key: String = envref!("API_KEY");                   // panics when unset at run time
//! let opt: Option<String> = envref!("API_KEY", optional); // None when unset or empty
//! let port: String = envref!("PORT", default = "8080");  // the default when unset or empty
//! ```
//!
//! `optional` and `default` treat an empty value as no value, like the shell's `${K:-d}`: the
//! macro only accepts declared keys, and `K=` is how a `.env` declares a key without a value
//! (for an optional secret that no backend has, `envref` delivers the empty value too). The
//! plain form returns what is set, empty included; it panics only when the key is unset.
//!
//! The crate is rebuilt when an env file it read changes, or when `ENVREF_PROFILE` changes.

use std::path::{Path, PathBuf};

use envref_core::config::PROFILE_ENV;
use envref_core::project::Project;
use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

enum Form {
    Required,
    Optional,
    Default(String),
}

#[proc_macro]
pub fn envref(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(ts) => ts,
        Err((span, msg)) => compile_error(span, &msg),
    }
}

fn expand(input: TokenStream) -> Result<TokenStream, (Span, String)> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let usage = "expected envref!(\"KEY\"), envref!(\"KEY\", optional) or envref!(\"KEY\", default = \"value\")";
    let (key, key_span) = match tokens.first() {
        Some(TokenTree::Literal(l)) => (
            string_literal(l).ok_or((l.span(), usage.to_string()))?,
            l.span(),
        ),
        Some(t) => return Err((t.span(), usage.into())),
        None => return Err((Span::call_site(), usage.into())),
    };
    let form = match &tokens[1..] {
        [] => Form::Required,
        [TokenTree::Punct(c), TokenTree::Ident(i)]
            if c.as_char() == ',' && i.to_string() == "optional" =>
        {
            Form::Optional
        }
        [TokenTree::Punct(c), TokenTree::Ident(i), TokenTree::Punct(eq), TokenTree::Literal(d)]
            if c.as_char() == ',' && i.to_string() == "default" && eq.as_char() == '=' =>
        {
            Form::Default(
                string_literal(d)
                    .ok_or((d.span(), "the default must be a string literal".to_string()))?,
            )
        }
        rest => return Err((rest[0].span(), usage.into())),
    };
    let files = check_declared(&key).map_err(|m| (key_span, m))?;
    Ok(expansion(&key, &form, &files))
}

/// Check `key` against the project's layers; returns the files read (to track them).
fn check_declared(key: &str) -> Result<Vec<PathBuf>, String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let project = Project::open(&dir, None).map_err(|e| {
        let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
        format!("envref: {e}{hint}")
    })?;
    let mut files: Vec<PathBuf> = vec![project.config.file.clone()];
    files.extend(
        project
            .paths
            .all()
            .into_iter()
            .filter(|p| p.exists())
            .map(Path::to_path_buf),
    );
    if project.merged.get(key).is_some() {
        return Ok(files);
    }
    let searched: Vec<String> = project
        .paths
        .all()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let profile = project
        .profile
        .map(|p| format!(" (profile {p})"))
        .unwrap_or_default();
    let mut msg = format!(
        "envref: `{key}` is not declared in {}{profile}",
        searched.join(", ")
    );
    match envref_core::suggest::closest(key, project.merged.keys()) {
        Some(s) => msg.push_str(&format!("; did you mean `{s}`?")),
        None => msg.push_str(&format!(
            "; add `{key}=…` to {}",
            project.paths.base.display()
        )),
    }
    Err(msg)
}

/// `{ <track files>; <read the env at run time> }`
fn expansion(key: &str, form: &Form, files: &[PathBuf]) -> TokenStream {
    let mut code = String::from("{");
    for f in files {
        // include_bytes! makes rustc record the file, so cargo rebuilds when it changes.
        code.push_str(&format!(
            "const _: &[u8] = ::core::include_bytes!({:?});",
            f.display().to_string()
        ));
    }
    code.push_str(&format!(
        "const _: ::core::option::Option<&str> = ::core::option_env!({PROFILE_ENV:?});"
    ));
    let read = format!("::std::env::var({key:?})");
    let missing = format!(
        "{key} is declared in the project's .env files but is not set in this process: run it under `envref run -- …` or `cargo envref run`"
    );
    let not_utf8 = format!("{key} is set, but its value is not valid UTF-8");
    // Empty is no value for the optional forms (see the crate documentation).
    let value = format!("{read}.ok().filter(|v| !v.is_empty())");
    code.push_str(&match form {
        Form::Required => format!(
            "match {read} {{ ::core::result::Result::Ok(v) => v, \
             ::core::result::Result::Err(::std::env::VarError::NotUnicode(_)) => ::core::panic!(\"{{}}\", {not_utf8:?}), \
             ::core::result::Result::Err(_) => ::core::panic!(\"{{}}\", {missing:?}) }}"
        ),
        Form::Optional => value,
        Form::Default(d) => {
            format!("{value}.unwrap_or_else(|| ::std::string::String::from({d:?}))")
        }
    });
    code.push('}');
    code.parse().expect("generated code parses")
}

/// The value of a plain `"…"` string literal (escapes other than `\"`/`\\` are refused).
fn string_literal(l: &Literal) -> Option<String> {
    let s = l.to_string();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn compile_error(span: Span, msg: &str) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut group = Group::new(Delimiter::Parenthesis, TokenTree::Literal(lit).into());
    group.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(group),
    ]
    .into_iter()
    .collect()
}
