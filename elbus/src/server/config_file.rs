//! `elbusd --config FILE`: the TOML config file. Its keys are the long command-line options
//! (`queue-size = 8192`, `bind = ["/run/elbus/elbus.sock"]`, `force-register = true`), read
//! through the very parsers of the flags, so a bound has one home and a new option of
//! [`ServerArgs`](super::ServerArgs) is a key without a line of code here. `acl` is a file path
//! or the rules inline (`[[acl.client]]` tables, the format of `elbus/examples/acl.toml`);
//! The federation options are keys like the others (`federation = "nats://..."`,
//! `federation-export = ["sensors/#"]`).
//!
//! The file becomes command-line arguments placed before the real ones ([`load`]); an option
//! the command line gives is not taken from the file (for the repeatable `-B`: one `-B`
//! replaces every `bind` of the file). A problem is one line naming the file, the line and the
//! key: `/etc/elbusd.toml:12: key `queue-size`: ...`.

use std::ffi::OsString;
use std::ops::Range;
use std::path::Path;

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::bind::BindAddress;
use crate::broker::AccessControl;

/// Largest config file `elbusd` reads (1 MiB); a larger one is refused with an error.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Long options that are not keys of the file.
const COMMAND_LINE_ONLY: [&str; 3] = ["config", "help", "version"];

/// The key of the access-control rules (a path, or the rules inline).
const ACL_KEY: &str = "acl";

/// A check of one value: `Err` says what is wrong with it.
type ValueCheck = fn(&str) -> Result<(), String>;

/// Checks of values the option parser takes as plain strings and [`ServerArgs::validate`]
/// judges later, run here too so a bad value in the file is reported at its line.
///
/// [`ServerArgs::validate`]: super::ServerArgs::validate
const LATER_CHECKS: &[(&str, ValueCheck)] = &[
    ("bind", |value| BindAddress::parse(value).map(drop)),
    ("socket-group", |value| {
        super::args::group_id(value).map(drop)
    }),
];

/// What a config file adds to the command line.
#[derive(Debug, Default)]
pub struct FileSettings {
    /// Arguments (`--key=value`, `--flag`) for the keys the command line does not give.
    pub args: Vec<OsString>,
    /// The inline access-control rules (`[[acl.client]]`), unless the command line gives
    /// `--acl`.
    pub inline_acl: Option<AccessControl>,
}

/// Reads the config file at `path` for `command` (the options of `elbusd`), leaving out the
/// options `given` (the parsed command line) has from the command line.
pub fn load(path: &Path, command: &Command, given: &ArgMatches) -> Result<FileSettings, String> {
    let text = read(path)?;
    let file = Located { path, text: &text };
    let table = file.parse()?;
    let mut settings = FileSettings::default();
    // In file order, so the first problem reported is the first in the file.
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    for (key, value) in entries {
        let name = key.get_ref().as_ref();
        let at = |message: String| file.error(key.span(), name, &message);
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(name) && !COMMAND_LINE_ONLY.contains(&name))
            .ok_or_else(|| {
                at("unknown key (the keys are the long options of `elbusd --help`)".to_owned())
            })?;
        let from_command_line =
            given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine);
        if name == ACL_KEY {
            if let DeValue::Table(_) = value.get_ref() {
                let rules = file.inline_acl(value.clone())?;
                if !from_command_line {
                    settings.inline_acl = Some(rules);
                }
                continue;
            }
        }
        let texts = match (arg.get_action(), value.get_ref()) {
            (ArgAction::SetTrue, DeValue::Boolean(on)) => {
                if *on && !from_command_line {
                    settings.args.push(format!("--{name}").into());
                }
                continue;
            }
            (ArgAction::SetTrue, _) => return Err(at("expected true or false".to_owned())),
            (ArgAction::Append, DeValue::Array(items)) => items.iter().collect(),
            _ => vec![value],
        };
        for item in texts {
            // Each value is checked at its own line (a list may span several).
            let text = scalar_text(item.get_ref())
                .map_err(str::to_owned)
                .and_then(|text| check_value(command, name, &text).map(|()| text))
                .map_err(|err| file.error(item.span(), name, &err))?;
            if !from_command_line {
                settings.args.push(format!("--{name}={text}").into());
            }
        }
    }
    Ok(settings)
}

/// Reads the inline access-control rules of the config file at `path` again (on SIGHUP).
/// Every other key is left unchecked: only the rules are reloaded.
pub fn reload_inline_acl(path: &Path) -> Result<AccessControl, String> {
    let text = read(path)?;
    let file = Located { path, text: &text };
    let table = file.parse()?;
    match table
        .get_ref()
        .iter()
        .find(|(key, _)| key.get_ref() == ACL_KEY)
    {
        Some((_, value)) if matches!(value.get_ref(), DeValue::Table(_)) => {
            file.inline_acl(value.clone())
        }
        _ => Err(format!(
            "{}: no inline [acl] rules any more (restart elbusd to change where the rules \
             come from)",
            path.display()
        )),
    }
}

/// The text of the file, at most [`MAX_CONFIG_BYTES`].
fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let unreadable = |err: std::io::Error| format!("unable to read {}: {err}", path.display());
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "{}: larger than {MAX_CONFIG_BYTES} bytes, not a config file",
            path.display()
        ));
    }
    Ok(text)
}

/// Checks one value of `key` with the option's own parser (and [`LATER_CHECKS`]).
fn check_value(command: &Command, key: &str, text: &str) -> Result<(), String> {
    command
        .clone()
        .try_get_matches_from(["elbusd".to_owned(), format!("--{key}={text}")])
        .map_err(|err| {
            // clap's first line says what is wrong; usage and hints follow.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid value");
            let mut line = first.trim_start_matches("error: ").to_owned();
            if let Some(ContextValue::Strings(values)) = err.get(ContextKind::ValidValue) {
                line.push_str(&format!(" (expected one of: {})", values.join(", ")));
            }
            line
        })?;
    match LATER_CHECKS.iter().find(|(name, _)| *name == key) {
        Some((_, check)) => check(text),
        None => Ok(()),
    }
}

/// A single value as the command line would spell it.
fn scalar_text(value: &DeValue<'_>) -> Result<String, &'static str> {
    match value {
        DeValue::String(text) => Ok(text.to_string()),
        // Decimal as written (without `_`); other radixes keep their prefix, so `0o660` is
        // octal to --socket-mode and refused by the decimal options, never silently converted.
        DeValue::Integer(int) if int.radix() == 10 => Ok(int.as_str().to_owned()),
        DeValue::Integer(int) => Ok(int.to_string()),
        DeValue::Float(float) => Ok(float.as_str().to_owned()),
        DeValue::Boolean(on) => Ok(on.to_string()),
        DeValue::Datetime(_) => Err("a date or time is not a valid value"),
        DeValue::Array(_) => Err("expected one value, not a list"),
        DeValue::Table(_) => Err("expected a value, not a table"),
    }
}

/// The config file's path and text, for errors that name a line.
struct Located<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Located<'a> {
    /// The top-level table, or the TOML syntax error at its line.
    fn parse(&self) -> Result<Spanned<DeTable<'a>>, String> {
        DeTable::parse(self.text).map_err(|err| {
            let line = self.line(err.span().map_or(0, |span| span.start));
            format!(
                "{}:{line}: invalid TOML: {}",
                self.path.display(),
                err.message().trim()
            )
        })
    }

    /// The rules of an inline `[acl]` table, or the error at the line of the bad rule.
    fn inline_acl(&self, value: Spanned<DeValue<'a>>) -> Result<AccessControl, String> {
        let table_span = value.span();
        AccessControl::deserialize(ValueDeserializer::from(value)).map_err(|err| {
            let span = err.span().unwrap_or(table_span);
            self.error(span, ACL_KEY, err.message().trim())
        })
    }

    /// `PATH:LINE: key `KEY`: MESSAGE` for the item at `span`.
    fn error(&self, span: Range<usize>, key: &str, message: &str) -> String {
        format!(
            "{}:{}: key `{key}`: {message}",
            self.path.display(),
            self.line(span.start)
        )
    }

    /// The 1-based line of byte `offset`.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count()
            + 1
    }
}

#[cfg(test)]
mod tests;
