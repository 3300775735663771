//! `envref team list|add|remove`: the team's age public keys under `team:` in .envref.yaml,
//! the recipients of `envref sync push --to-team`.

use clap::Subcommand;
use envref_core::config_edit::ConfigEditor;
use envref_core::Result;

use super::{display_path, load_config, write_stdout};
use crate::{ui, Global};

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
pub enum TeamCommand {
    /// List team members and their public keys
    List,
    /// Add a member's age public key (`age-keygen -y key.txt` prints it)
    Add {
        name: String,
        /// The member's age public key (age1…)
        #[arg(value_name = "AGE_PUBLIC_KEY")]
        public_key: String,
    },
    /// Remove a member
    #[command(visible_alias = "rm")]
    Remove { name: String },
}

pub fn run(g: &Global, c: TeamCommand) -> Result<i32> {
    let config = load_config(g)?;
    let file = display_path(&config.root, &config.file);
    match c {
        TeamCommand::List => {
            if config.team.is_empty() {
                ui::info("no team members configured");
                ui::hint("add one with `envref team add <name> <age1…>`");
                return Ok(0);
            }
            let mut team = config.team.clone();
            team.sort_by(|a, b| a.name.cmp(&b.name));
            let w = team
                .iter()
                .map(|m| m.name.chars().count())
                .max()
                .unwrap_or(0);
            let out: String = team
                .iter()
                .map(|m| format!("{:w$}  {}\n", m.name, m.public_key))
                .collect();
            write_stdout(&out)?;
        }
        TeamCommand::Add { name, public_key } => {
            let public_key = public_key.trim();
            ConfigEditor::open(&config.file)?
                .add_team_member(&name, public_key)?
                .write()?;
            ui::info(&format!(
                "added team member {name} ({public_key}) to {file}"
            ));
            ui::hint("re-encrypt the secrets for the new team: `envref sync push --to-team`");
        }
        TeamCommand::Remove { name } => {
            ConfigEditor::open(&config.file)?
                .remove_team_member(&name)?
                .write()?;
            ui::info(&format!("removed team member {name} from {file}"));
            ui::hint(
                "re-encrypt without their key: `envref sync push --to-team`; secrets they could read before stay known to them, so rotate those that matter",
            );
        }
    }
    Ok(0)
}
