//! AWS Systems Manager Parameter Store through the `aws` CLI: each secret is a SecureString
//! parameter `<prefix>/<namespaced key>`.
//!
//! - Reads batch: `get-parameters` takes at most 10 names, so N keys cost ⌈N/10⌉ calls (run in
//!   parallel, bounded). Missing names come back in `InvalidParameters`.
//! - Writes go through `put-parameter --cli-input-json file://<0600 temp file>`: the value never
//!   reaches argv, and CLI v1 cannot fetch a value starting with `http://` or read one starting
//!   with `file://`, nor misparse one starting with `-`.
//! - Not found is the `(ParameterNotFound)` error code only (AWS leaves the message empty).
//! - Raw references (`ref://ssm//myapp/prod/DATABASE_URL`) read any parameter by its own name,
//!   String or SecureString, batched like namespaced keys: a name with a `/` gets the leading
//!   `/` AWS requires for hierarchical names, a name without one is used as is.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::cli::Tool;
use super::{bounded_parallel, listed};
use super::{Backend, BackendError, BackendKind, ErrorKind, Lookup};
use crate::config::BackendSpec;
use crate::runner::{Output, SecretFile};

/// `get-parameters` accepts at most this many names.
pub(crate) const BATCH: usize = 10;

const IAM_HINT: &str = "the IAM role/user needs ssm:GetParameter, ssm:GetParameters, ssm:PutParameter, \
ssm:DeleteParameter and ssm:GetParametersByPath on arn:aws:ssm:*:*:parameter<prefix>/* (and kms:Decrypt for SecureString)";

pub(crate) struct AwsSsm {
    tool: Tool,
    /// Normalised: starts with `/`, no trailing `/` (empty for the root).
    prefix: String,
    region: Option<String>,
    profile: Option<String>,
}

#[derive(Deserialize)]
struct Parameter {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Value", default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct GetParameter {
    #[serde(rename = "Parameter")]
    parameter: Parameter,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(rename = "Parameters", default)]
    parameters: Vec<Parameter>,
}

impl AwsSsm {
    pub fn new(spec: &BackendSpec) -> AwsSsm {
        let prefix = spec.option("prefix").unwrap_or("/envref").trim_matches('/');
        AwsSsm {
            tool: Tool::new(spec, BackendKind::AwsSsm),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            },
            region: spec.option("region").map(str::to_string),
            profile: spec.option("profile").map(str::to_string),
        }
    }

    fn parameter_name(&self, key: &str) -> String {
        format!("{}/{key}", self.prefix)
    }

    /// The parameter a raw reference names: `myapp/prod/DATABASE_URL` is
    /// `/myapp/prod/DATABASE_URL` (AWS requires the leading `/` on a hierarchical name), `TOKEN`
    /// is `TOKEN`. A name SSM cannot hold is refused here, so it does not fail its whole batch.
    fn raw_parameter_name(&self, name: &str) -> Result<String, BackendError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
        let problem = match name.chars().find(|&c| !allowed(c)) {
            Some(c) => Some(format!("it contains {c:?}")),
            None if name.split('/').any(str::is_empty) => Some("it has an empty level".into()),
            None => None,
        };
        if let Some(problem) = problem {
            return Err(self
                .tool
                .error(
                    ErrorKind::Failed,
                    "aws ssm get-parameters",
                    format!("{name} is not an SSM parameter name ({problem})"),
                )
                .with_hint("an SSM parameter name holds only letters, digits and _ . - / (version selectors such as name:3 are not supported)"));
        }
        Ok(if name.contains('/') {
            format!("/{name}")
        } else {
            name.to_string()
        })
    }

    /// Run `aws ssm <operation> <args…> --output json` with the configured region and profile.
    fn ssm(&self, operation: &str, args: Vec<String>) -> Result<Output, BackendError> {
        let mut argv = vec!["ssm".to_string(), operation.to_string()];
        argv.extend(args);
        argv.extend(["--output".to_string(), "json".to_string()]);
        if let Some(r) = &self.region {
            argv.extend(["--region".to_string(), r.clone()]);
        }
        if let Some(p) = &self.profile {
            argv.extend(["--profile".to_string(), p.clone()]);
        }
        // No pager: the CLI would otherwise wait on `less` for long output.
        let inv = self
            .tool
            .invocation()
            .args(argv)
            .env("AWS_PAGER", SecretString::from(String::new()));
        self.tool.run(&format!("aws ssm {operation}"), inv)
    }

    fn is_not_found(out: &Output) -> bool {
        !out.success() && String::from_utf8_lossy(&out.stderr).contains("(ParameterNotFound)")
    }

    /// A failed call as a backend error, classified by the CLI's documented messages.
    fn failure(&self, operation: &str, out: &Output) -> BackendError {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let what = format!("aws ssm {operation}");
        let detail = out.stderr_summary();
        if stderr.contains("AccessDenied") || stderr.contains("(UnrecognizedClientException)") {
            self.tool
                .error(ErrorKind::Denied, &what, detail)
                .with_hint(IAM_HINT)
        } else if stderr.contains("Unable to locate credentials")
            || stderr.contains("could not be found")
        {
            // "could not be found": a named profile that is not configured.
            self.tool
                .error(ErrorKind::Denied, &what, detail)
                .with_hint("configure AWS credentials (`aws configure`, `aws sso login`) or set `profile:` for this backend")
        } else if stderr.contains("You must specify a region") {
            self.tool
                .error(ErrorKind::Failed, &what, detail)
                .with_hint("set `region:` for this backend, or AWS_REGION")
        } else if stderr.contains("Could not connect to the endpoint URL") {
            self.tool
                .error(ErrorKind::Unavailable, &what, detail)
                .with_hint("check the network and the region (or AWS_ENDPOINT_URL)")
        } else {
            self.tool.error(ErrorKind::Failed, &what, detail)
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        operation: &str,
        out: &Output,
    ) -> Result<T, BackendError> {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            self.tool.error(
                ErrorKind::Failed,
                &format!("aws ssm {operation}"),
                format!("unexpected output (not the documented JSON: {e})"),
            )
        })
    }

    /// ⌈N/10⌉ `get-parameters` calls for these parameter names, at most
    /// [`super::PARALLEL_LOOKUPS`] at a time; answers in the order of `names`.
    fn get_parameters(&self, names: &[String]) -> Vec<Lookup> {
        let chunks: Vec<&[String]> = names.chunks(BATCH).collect();
        bounded_parallel(&chunks, |chunk| self.get_batch(chunk))
            .into_iter()
            .flatten()
            .collect()
    }

    /// One `get-parameters` call for at most [`BATCH`] parameter names.
    fn get_batch(&self, names: &[String]) -> Vec<Lookup> {
        let mut args = vec!["--names".to_string()];
        args.extend(names.iter().cloned());
        args.push("--with-decryption".into());
        let result = self.ssm("get-parameters", args).and_then(|out| {
            if !out.success() {
                return Err(self.failure("get-parameters", &out));
            }
            self.parse::<Parameters>("get-parameters", &out)
        });
        match result {
            Err(e) => names.iter().map(|_| Err(e.clone())).collect(),
            Ok(found) => {
                let mut values: HashMap<String, Option<String>> = found
                    .parameters
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect();
                names
                    .iter()
                    .map(|name| {
                        match values.remove(name) {
                            Some(Some(v)) => Ok(Some(SecretString::from(v))),
                            Some(None) => Err(self.tool.error(
                                ErrorKind::Failed,
                                "aws ssm get-parameters",
                                format!("{name} came back without a value"),
                            )),
                            // Missing names are listed in InvalidParameters; anything absent is not there.
                            None => Ok(None),
                        }
                    })
                    .collect()
            }
        }
    }
}

impl Backend for AwsSsm {
    fn name(&self) -> &str {
        &self.tool.backend
    }

    fn kind(&self) -> &'static str {
        "aws-ssm"
    }

    fn get(&self, key: &str) -> Lookup {
        let args = vec![
            "--name".to_string(),
            self.parameter_name(key),
            "--with-decryption".into(),
        ];
        let out = self.ssm("get-parameter", args)?;
        if Self::is_not_found(&out) {
            return Ok(None);
        }
        if !out.success() {
            return Err(self.failure("get-parameter", &out));
        }
        let p: GetParameter = self.parse("get-parameter", &out)?;
        Ok(p.parameter.value.map(SecretString::from))
    }

    fn get_many(&self, keys: &[String]) -> Vec<Lookup> {
        let names: Vec<String> = keys.iter().map(|k| self.parameter_name(k)).collect();
        self.get_parameters(&names)
    }

    /// Each name's parameter ([`AwsSsm::raw_parameter_name`]), in the same batches.
    fn get_raw(&self, names: &[String]) -> Vec<Lookup> {
        let mapped: Vec<Result<String, BackendError>> =
            names.iter().map(|n| self.raw_parameter_name(n)).collect();
        let valid: Vec<String> = mapped.iter().filter_map(|m| m.clone().ok()).collect();
        let mut answers = self.get_parameters(&valid).into_iter();
        mapped
            .into_iter()
            .map(|m| m.and_then(|_| answers.next().expect("one answer per parameter")))
            .collect()
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        let request = serde_json::json!({
            "Name": self.parameter_name(key),
            "Value": value.expose_secret(),
            "Type": "SecureString",
            "Overwrite": true,
        });
        let file = SecretFile::new(&SecretString::from(request.to_string())).map_err(|e| {
            self.tool.error(
                ErrorKind::Failed,
                "aws ssm put-parameter",
                format!("cannot write the request file: {e}"),
            )
        })?;
        let args = vec![
            "--cli-input-json".to_string(),
            format!("file://{}", file.path().display()),
        ];
        let out = self.ssm("put-parameter", args)?;
        drop(file);
        if !out.success() {
            return Err(self.failure("put-parameter", &out));
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let out = self.ssm(
            "delete-parameter",
            vec!["--name".to_string(), self.parameter_name(key)],
        )?;
        if Self::is_not_found(&out) {
            return Ok(false);
        }
        if !out.success() {
            return Err(self.failure("delete-parameter", &out));
        }
        Ok(true)
    }

    /// `get-parameters-by-path --recursive` under the namespace (the CLI follows every page).
    /// Values are not decrypted: only names are needed.
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let path = match prefix.trim_end_matches('/') {
            "" if self.prefix.is_empty() => "/".to_string(),
            "" => self.prefix.clone(),
            p => self.parameter_name(p),
        };
        let out = self.ssm(
            "get-parameters-by-path",
            vec!["--path".to_string(), path, "--recursive".into()],
        )?;
        if !out.success() {
            return Err(self.failure("get-parameters-by-path", &out));
        }
        let found: Parameters = self.parse("get-parameters-by-path", &out)?;
        let strip = format!("{}/", self.prefix);
        let keys = found
            .parameters
            .into_iter()
            .filter_map(|p| p.name.strip_prefix(&strip).map(str::to_string));
        Ok(listed(keys, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_normalised() {
        let mut spec = BackendSpec::new("ssm", "aws-ssm");
        assert_eq!(AwsSsm::new(&spec).parameter_name("app/k"), "/envref/app/k");
        spec.options
            .insert("prefix".into(), "my-api/production/".into());
        assert_eq!(
            AwsSsm::new(&spec).parameter_name("app/k"),
            "/my-api/production/app/k"
        );
    }

    #[test]
    fn raw_names_are_the_parameters_own_whatever_the_prefix() {
        let mut spec = BackendSpec::new("ssm", "aws-ssm");
        spec.options
            .insert("prefix".into(), "my-api/production".into());
        let ssm = AwsSsm::new(&spec);
        let raw = |n: &str| ssm.raw_parameter_name(n);
        assert_eq!(
            raw("myapp/prod/DATABASE_URL").unwrap(),
            "/myapp/prod/DATABASE_URL"
        );
        assert_eq!(raw("LEGACY_TOKEN").unwrap(), "LEGACY_TOKEN");
        assert_eq!(raw("aws/service/x.y-z_1").unwrap(), "/aws/service/x.y-z_1");
        for bad in ["db#password", "name:3", "a@b", "é", "a//b", "a/"] {
            let e = raw(bad).unwrap_err();
            assert!(
                e.message.contains("is not an SSM parameter name"),
                "{bad}: {e}"
            );
            assert!(e.hint.unwrap().contains("letters, digits"), "{bad}");
        }
    }
}
