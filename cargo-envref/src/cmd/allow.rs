//! `envref allow [--revoke]`: trust the project's `.envref.yaml`, as it is now, to run the
//! programs it names (like `direnv allow`). Any later edit of the file needs a new allow.

use clap::Args;
use envref_core::trust;
use envref_core::Result;

use super::load_config;
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct AllowArgs {
    /// Withdraw the trust instead (like `direnv deny`)
    #[arg(long)]
    pub revoke: bool,
}

pub fn run(g: &Global, a: AllowArgs) -> Result<i32> {
    let config = load_config(g)?;
    let file = config.file.display();
    if a.revoke {
        let was = trust::revoke(&config.file)?;
        ui::info(&if was {
            format!("revoked: {file} runs no program it names until `envref allow`")
        } else {
            format!("{file} was not allowed")
        });
        return Ok(0);
    }
    let named = trust::named(&config, &config.backends.iter().collect::<Vec<_>>());
    let record = trust::allow(&config.file)?;
    ui::verbose(&format!("recorded in {}", record.display()));
    if named.is_empty() {
        ui::info(&format!(
            "allowed {file} (it names no program today; any edit needs a new `envref allow`)"
        ));
    } else {
        ui::info(&format!("allowed {file}; envref may now run:"));
        for n in &named {
            ui::info(&format!("  - {n}"));
        }
    }
    Ok(0)
}
