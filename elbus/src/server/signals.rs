//! The signals of `elbusd`: SIGTERM and SIGINT stop it, SIGHUP reloads the access-control
//! rules from where they came from ([`AclSource`]).

use std::path::PathBuf;

use tracing::{error, info, warn};

use super::config_file;
use crate::broker::{AccessControl, SharedAccessControl};

/// Where the access-control rules come from, for the start and for SIGHUP.
pub(super) enum AclSource {
    /// `--acl FILE` (or `acl = "FILE"` in the config file): read at start and on SIGHUP.
    File(PathBuf),
    /// `[[acl.client]]` tables of the config file at this path, as read at start; SIGHUP reads
    /// the file's rules again (and only them).
    Inline(PathBuf, AccessControl),
}

impl AclSource {
    /// The rules now, or one line saying why they cannot be read.
    pub(super) fn read(&self) -> Result<AccessControl, String> {
        match self {
            AclSource::File(path) => AccessControl::from_file(path).map_err(|err| err.to_string()),
            AclSource::Inline(config, _) => config_file::reload_inline_acl(config),
        }
    }

    /// Where the rules are, for the log.
    pub(super) fn describe(&self) -> String {
        match self {
            AclSource::File(path) => path.display().to_string(),
            AclSource::Inline(config, _) => format!("the [acl] tables of {}", config.display()),
        }
    }
}

/// Logs, one line each, the rules of `rules` that may be wider than they look.
pub(super) fn warn_about_rules(rules: &AccessControl) {
    for warning in rules.warnings() {
        warn!("{warning}");
    }
}

/// The signal streams of the server, installed by [`Signals::install`].
pub(super) struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the SIGTERM, SIGINT and SIGHUP handlers (a failure is logged).
    pub(super) fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let (term, int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => (Some(term), Some(int)),
            _ => {
                error!("unable to install signal handlers; stop with SIGKILL");
                (None, None)
            }
        };
        let hup = match signal(SignalKind::hangup()) {
            Ok(hup) => Some(hup),
            Err(err) => {
                error!("unable to install the SIGHUP handler, no reloads: {err}");
                None
            }
        };
        Signals { term, int, hup }
    }

    /// Waits for SIGTERM or SIGINT. With access-control rules, SIGHUP reloads them meanwhile
    /// from their file (`--acl`) or from the config file's `[acl]` tables (new connections get
    /// the new rules; rules that fail to load keep the old ones). Without rules, SIGHUP is
    /// logged and ignored: there is nothing to reload, and a stray hang-up (a closed terminal,
    /// a `kill -HUP` meant as "reload") must not take the bus down (busrtd dies of it).
    pub(super) async fn wait(
        self,
        access: Option<&(AclSource, SharedAccessControl)>,
    ) -> &'static str {
        let Signals {
            term: Some(mut term),
            int: Some(mut int),
            mut hup,
        } = self
        else {
            return std::future::pending().await;
        };
        loop {
            let reload = async {
                match hup.as_mut() {
                    Some(hup) => hup.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term.recv() => return "SIGTERM",
                _ = int.recv() => return "SIGINT",
                _ = reload => {
                    if let Some((source, shared)) = access {
                        match source.read() {
                            Ok(rules) => {
                                let count = rules.rules.len();
                                warn_about_rules(&rules);
                                shared.replace(rules);
                                info!("access control reloaded: {count} rules from {}", source.describe());
                            }
                            Err(err) => warn!("access control not reloaded, the old rules stay: {err}"),
                        }
                    } else {
                        info!("SIGHUP: nothing to reload (no access-control rules), ignored");
                    }
                }
            }
        }
    }
}
