//! Tests of the config file mapping: keys become the flags' arguments, errors name the line.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{CommandFactory, Parser};

use super::*;
use crate::server::ServerArgs;

/// Loads `text` as a config file over the command line `cli` and parses the merged options.
fn load_text(text: &str, cli: &[&str]) -> Result<(ServerArgs, FileSettings), String> {
    let dir = std::env::temp_dir().join(format!("elbus-config-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = dir.join(format!("{}.toml", COUNTER.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, text).unwrap();
    let command = ServerArgs::command();
    let argv: Vec<&str> = std::iter::once("elbusd")
        .chain(cli.iter().copied())
        .collect();
    let matches = command.clone().try_get_matches_from(&argv).unwrap();
    let loaded = load(&path, &command, &matches);
    let _ = std::fs::remove_file(&path);
    let settings = loaded?;
    let merged: Vec<OsString> = std::iter::once(OsString::from("elbusd"))
        .chain(settings.args.iter().cloned())
        .chain(cli.iter().map(OsString::from))
        .collect();
    let args = ServerArgs::try_parse_from(merged).map_err(|err| err.to_string())?;
    Ok((args, settings))
}

fn error_of(text: &str) -> String {
    load_text(text, &[]).expect_err("the file should be refused")
}

#[test]
fn keys_become_options_and_the_command_line_wins() {
    let text =
        "queue-size = 100\nbind = [\"/tmp/a.sock\", \"127.0.0.1:1\"]\nforce-register = true\n\
                timeout = 2.5\nsocket-mode = 0o600\nmax-frame-size = 1_000_000\n";
    let (args, _) = load_text(text, &[]).unwrap();
    assert_eq!(args.queue_size, 100);
    assert_eq!(args.bind, ["/tmp/a.sock", "127.0.0.1:1"]);
    assert!(args.force_register);
    assert_eq!(args.timeout, 2.5);
    assert_eq!(args.server_config().unix_mode, Some(0o600));
    assert_eq!(args.max_frame_size, 1_000_000);
    let (args, _) = load_text(text, &["--queue-size", "7", "-B", "/tmp/b.sock"]).unwrap();
    assert_eq!(args.queue_size, 7);
    assert_eq!(
        args.bind,
        ["/tmp/b.sock"],
        "one -B replaces the file's listeners"
    );
    let (args, _) = load_text("socket-mode = \"640\"\n", &[]).unwrap();
    assert_eq!(args.server_config().unix_mode, Some(0o640));
}

#[test]
fn errors_name_the_file_line_and_key() {
    let err = error_of("# comment\n\nqueue-sise = 1\n");
    assert!(err.ends_with(".toml:3: key `queue-sise`: unknown key (the keys are the long options of `elbusd --help`)"), "{err}");
    let err = error_of("timeout = 1\n\nqueue-size = 0\n");
    assert!(
        err.contains(":3: key `queue-size`: ") && err.contains("at least 1"),
        "{err}"
    );
    let err = error_of("bind = [\n  \"/tmp/ok.sock\",\n  \"nonsense\",\n]\n");
    assert!(
        err.contains(":3: key `bind`: invalid bind address"),
        "{err}"
    );
    let err = error_of("force-register = \"yes\"\n");
    assert!(
        err.contains(":1: key `force-register`: expected true or false"),
        "{err}"
    );
    let err = error_of("queue-size = [1, 2]\n");
    assert!(err.contains("expected one value, not a list"), "{err}");
    let err = error_of("socket-group = \"no-such-group-x\"\n");
    assert!(err.contains("key `socket-group`: unknown group"), "{err}");
    let err = error_of("config = \"/etc/other.toml\"\n");
    assert!(err.contains("key `config`: unknown key"), "{err}");
    let err = error_of("queue-size = 0x10\n");
    assert!(err.contains("key `queue-size`"), "{err}");
    // Federation options are plain keys (`federation = "nats://..."`), not a table.
    let err = error_of("\n[federation]\npeers = []\n");
    assert!(
        err.contains(":2: key `federation`: expected a value, not a table"),
        "{err}"
    );
    // The first problem in the file is the one reported, whatever the keys' order.
    let err = error_of("queue-size = 0\nbind = [\"nonsense\"]\n");
    assert!(err.contains(":1: key `queue-size`"), "{err}");
    let err = error_of("timeout = \n");
    assert!(err.contains(":1: invalid TOML"), "{err}");
}

#[test]
fn inline_rules_and_their_errors() {
    let text =
        "[[acl.client]]\nname = \"svc.*\"\np2p = [\".broker\"]\n\n[[acl.client]]\nname = \"*\"\n";
    let (args, settings) = load_text(text, &[]).unwrap();
    assert_eq!(args.acl, None);
    let rules = settings.inline_acl.expect("inline rules");
    assert_eq!(rules.rules.len(), 2);
    assert_eq!(rules.rules[0].name, "svc.*");
    let (args, settings) = load_text(text, &["--acl", "/etc/acl.toml"]).unwrap();
    assert_eq!(args.acl.as_deref(), Some(Path::new("/etc/acl.toml")));
    assert!(
        settings.inline_acl.is_none(),
        "--acl overrides the inline rules"
    );
    let (args, _) = load_text("acl = \"/etc/elbus/acl.toml\"\n", &[]).unwrap();
    assert_eq!(args.acl.as_deref(), Some(Path::new("/etc/elbus/acl.toml")));
    let err = error_of("[[acl.client]]\nname = \"a\"\n\n[[acl.client]]\nname = \"b\"\nuid = [0]\n");
    assert!(
        err.contains(":6: key `acl`: ") && err.contains("uid"),
        "{err}"
    );
}

#[test]
fn an_oversized_file_is_refused() {
    let err = error_of(&"#".repeat(MAX_CONFIG_BYTES as usize + 1));
    assert!(err.contains("larger than"), "{err}");
}
