//! A project opened for one run: its configuration, the profile in effect, and the merged
//! layers. Every front door starts here.

use std::path::Path;

use crate::backend::Namespace;
use crate::config::Config;
use crate::layers::{LayerPaths, Merged};
use crate::Result;

/// A project opened for one run (see the module documentation).
#[derive(Debug, Clone)]
pub struct Project {
    /// The configuration, global defaults applied.
    pub config: Config,
    /// The profile in effect, if any.
    pub profile: Option<String>,
    /// The env files this run reads.
    pub paths: LayerPaths,
    /// Their merged definitions.
    pub merged: Merged,
}

impl Project {
    /// Discover the project from `dir` upward and load its layers for the profile in effect
    /// (`profile_flag`, else `$ENVREF_PROFILE`, else `active_profile`).
    pub fn open(dir: &Path, profile_flag: Option<&str>) -> Result<Project> {
        Project::from_config(Config::discover(dir)?, profile_flag)
    }

    /// Open the project of an already loaded `config`, choosing the profile as [`Project::open`]
    /// does.
    pub fn from_config(config: Config, profile_flag: Option<&str>) -> Result<Project> {
        let profile = config.select_profile(profile_flag)?;
        let paths = config.layer_paths(profile.as_deref());
        let merged = Merged::load(&paths)?;
        Ok(Project {
            config,
            profile,
            paths,
            merged,
        })
    }

    /// Where this run's secrets live in the backends: the project, scoped to the profile.
    pub fn namespace(&self) -> Namespace {
        Namespace::new(&self.config.project, self.profile.clone())
    }
}
