//! Unit tests of the access rules: networks, operations, containment, registration, the file.

use super::*;

fn net(s: &str) -> IpNetwork {
    s.parse().unwrap()
}

#[test]
fn networks() {
    assert!(net("10.0.0.0/8").contains("10.1.2.3".parse().unwrap()));
    assert!(!net("10.0.0.0/8").contains("127.0.0.1".parse().unwrap()));
    assert!(net("127.0.0.1").contains("127.0.0.1".parse().unwrap()));
    assert!(!net("127.0.0.1").contains("127.0.0.2".parse().unwrap()));
    assert!(net("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
    assert!(!net("0.0.0.0/0").contains("::1".parse().unwrap()));
    assert!(net("192.168.0.0/23").contains("192.168.1.200".parse().unwrap()));
    assert!(!net("192.168.0.0/23").contains("192.168.2.1".parse().unwrap()));
    assert!(net("::1/128").contains("::1".parse().unwrap()));
    assert!(net("fd00::/8").contains("fd12::1".parse().unwrap()));
    // A dual-stack listener reports IPv4 peers as mapped addresses.
    assert!(net("127.0.0.0/8").contains("::ffff:127.0.0.1".parse().unwrap()));
    for bad in ["10.0.0.0/33", "::/129", "nonsense/8", "10.0.0.0/x", ""] {
        assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
    }
    assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
}

#[test]
fn operation_checks_follow_the_original() {
    let rule = AccessRule {
        p2p: Some(vec!["test".into(), "group.?.*".into()]),
        broadcast: Some(vec!["group.*".into()]),
        publish: Some(vec!["news/#".into()]),
        subscribe: Some(vec!["news/#".into()]),
        ..AccessRule::new("x")
    };
    assert!(rule.allows_p2p("test"));
    assert!(rule.allows_p2p("group.a.b"));
    assert!(!rule.allows_p2p("group.a"));
    assert!(!rule.allows_p2p("other"));
    // The broadcast check is on what the mask can reach: the rule mask must contain it.
    assert!(rule.allows_broadcast("group.*"));
    assert!(rule.allows_broadcast("group.x"));
    assert!(!rule.allows_broadcast("*"));
    assert!(rule.allows_publish("news/today"));
    assert!(!rule.allows_publish("news"));
    assert!(rule.allows_subscribe("news/#"));
    assert!(rule.allows_subscribe("news/x"));
    assert!(!rule.allows_subscribe("#"));
    let open = AccessRule::new("y");
    assert!(open.allows_p2p("a") && open.allows_publish("t") && open.allows_subscribe("#"));
    let closed = AccessRule {
        publish: Some(vec![]),
        ..AccessRule::new("z")
    };
    assert!(!closed.allows_publish("t"));
}

#[test]
fn containment_examples() {
    // The escalations of issue 13: a `?` or `+` rule chunk never admits a client's `*`/`#`.
    assert!(!mask_contains("?.alerts", "*.alerts"));
    assert!(!topic_contains("+/public", "#/public"));
    assert!(!topic_contains("+/public", "#"));
    for (rule, mask, want) in [
        ("svc.*", "svc.*", true),
        ("svc.*", "svc.*.x", true),
        ("svc.*", "svc.?", true),
        ("svc.*", "svc.a.b", true),
        ("svc.*", "svc", false),
        ("svc.*", "*", false),
        ("svc.?", "svc.a", true),
        ("svc.?", "svc.?", true),
        ("svc.?", "svc.*", false),
        ("?.alerts", "x.alerts", true),
        ("*", "*", true),
        ("*", "?.?", true),
        ("a", "?", false),
        ("a*", "a*", true),
        ("a*", "ab", false),
    ] {
        assert_eq!(
            mask_contains(rule, mask),
            want,
            "{rule:?} contains {mask:?}"
        );
    }
    for (rule, pattern, want) in [
        ("news/#", "news/#", true),
        ("news/#", "news/+/x", true),
        ("news/#", "news/#/x", true),
        ("news/#", "news", false),
        ("news/#", "#", false),
        ("news/+", "news/x", true),
        ("news/+", "news/+", true),
        ("news/+", "news/#", false),
        ("x/#", "x", false),
        ("#", "x", true),
        ("#", "#", true),
        ("+/#", "#", false),
        ("+/#", "+/+", true),
        ("+", "#", false),
    ] {
        assert_eq!(
            topic_contains(rule, pattern),
            want,
            "{rule:?} contains {pattern:?}"
        );
    }
}

/// Parts of generated patterns: both wildcards, a non-wildcard `a*`/`a#`, empty parts and
/// literals.
const MASK_PARTS: [&str; 6] = ["", "a", "b", "?", "*", "a*"];
const TOPIC_PARTS: [&str; 6] = ["", "a", "b", "+", "#", "a#"];
/// Parts of the names tried: every literal the patterns use, plus parts no pattern names
/// (`z`, and the wildcard characters, which are ordinary parts in a name or topic).
const NAME_PARTS: [&str; 8] = ["", "a", "b", "a*", "a#", "z", "*", "#"];
/// Generated patterns have at most this many parts.
const MAX_PARTS: usize = 4;

/// Every name of 1 ..= `MAX_PARTS + 1` parts from [`NAME_PARTS`] joined with `separator`.
/// A pattern of at most `MAX_PARTS` parts cannot tell a part it does not name from `z`, nor a
/// longer name from one of `MAX_PARTS + 1` parts, so this finite set decides containment.
fn all_names(separator: &str) -> Vec<String> {
    let mut names: Vec<String> = NAME_PARTS.iter().map(|p| (*p).to_owned()).collect();
    let mut last = names.clone();
    for _ in 1..=MAX_PARTS {
        last = last
            .iter()
            .flat_map(|name| {
                NAME_PARTS
                    .iter()
                    .map(move |p| format!("{name}{separator}{p}"))
            })
            .collect();
        names.extend(last.iter().cloned());
    }
    names
}

fn pattern(
    parts: &'static [&'static str],
    separator: &'static str,
) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(parts), 1..=MAX_PARTS)
        .prop_map(move |p| p.join(separator))
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Containment agrees with the broker's matchers: the rule contains the client's
    /// pattern exactly when every name (topic) the pattern matches is matched by the rule.
    #[test]
    fn mask_containment_agrees_with_matching(
        rule in pattern(&MASK_PARTS, "."),
        mask in pattern(&MASK_PARTS, "."),
    ) {
        let names = all_names(".");
        let escaping = names
            .iter()
            .find(|name| mask_matches(&mask, name) && !mask_matches(&rule, name));
        prop_assert_eq!(
            mask_contains(&rule, &mask),
            escaping.is_none(),
            "rule {:?}, mask {:?}, a name only the mask matches: {:?}",
            rule,
            mask,
            escaping
        );
    }

    #[test]
    fn topic_containment_agrees_with_matching(
        rule in pattern(&TOPIC_PARTS, "/"),
        topic in pattern(&TOPIC_PARTS, "/"),
    ) {
        let topics = all_names("/");
        let escaping = topics
            .iter()
            .find(|t| topic_matches(&topic, t) && !topic_matches(&rule, t));
        prop_assert_eq!(
            topic_contains(&rule, &topic),
            escaping.is_none(),
            "rule {:?}, pattern {:?}, a topic only the pattern matches: {:?}",
            rule,
            topic,
            escaping
        );
    }
}

#[test]
fn uid_rules_refuse_tcp_peers_unless_they_name_networks() {
    let tcp = |ip: &str| PeerAddress::Tcp(ip.parse().unwrap());
    let acl = AccessControl::new()
        .rule(AccessRule {
            uids: Some(vec![0]),
            admin: true,
            ..AccessRule::new("admin")
        })
        .rule(AccessRule {
            gids: Some(vec![50]),
            networks: Some(vec![net("127.0.0.0/8")]),
            ..AccessRule::new("staff")
        })
        .rule(AccessRule {
            networks: Some(vec![net("127.0.0.0/8")]),
            ..AccessRule::new("net")
        })
        .rule(AccessRule::new("open"));
    let err = acl
        .check_registration("admin", tcp("127.0.0.1"))
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Access);
    assert!(err.to_string().contains("TCP peers are refused"), "{err}");
    assert!(acl.check_registration("staff", tcp("127.0.0.1")).is_ok());
    assert!(acl.check_registration("staff", tcp("10.0.0.1")).is_err());
    assert!(acl.check_registration("net", tcp("127.0.0.1")).is_ok());
    assert!(acl.check_registration("open", tcp("10.0.0.1")).is_ok());
    // UNIX peers: uids/gids decide; a networks-only rule leaves them to the socket's mode.
    let root = PeerCredentials {
        uid: 0,
        gid: 0,
        pid: None,
    };
    let user = PeerCredentials { uid: 1000, ..root };
    assert!(acl
        .check_registration("admin", PeerAddress::Unix(Some(&root)))
        .is_ok());
    assert!(acl
        .check_registration("admin", PeerAddress::Unix(Some(&user)))
        .is_err());
    assert!(acl
        .check_registration("net", PeerAddress::Unix(Some(&user)))
        .is_ok());
}

#[test]
fn warnings_flag_wide_rules_once_each() {
    let acl = AccessControl::new()
        .rule(AccessRule {
            uids: Some(vec![0]),
            ..AccessRule::new("root.only")
        })
        .rule(AccessRule {
            admin: true,
            ..AccessRule::new("ops.*")
        })
        .rule(AccessRule {
            networks: Some(vec![net("0.0.0.0/0")]),
            ..AccessRule::new("any\nwhere")
        })
        .rule(AccessRule {
            uids: Some(vec![0]),
            networks: Some(vec![]),
            admin: true,
            ..AccessRule::new("admin")
        })
        .rule(AccessRule::new("*"));
    let warnings = acl.warnings();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(warnings[0].contains("\"root.only\"") && warnings[0].contains("TCP peers are refused"));
    assert!(warnings[1].contains("every local user") && warnings[1].contains("TCP peers"));
    assert!(warnings[2].contains("0.0.0.0/0") && !warnings[2].contains('\n'));
    #[cfg(feature = "acl-file")]
    {
        let example = AccessControl::from_toml(include_str!("../../../examples/acl.toml")).unwrap();
        assert!(example.warnings().is_empty(), "{:#?}", example.warnings());
    }
}

#[test]
fn registration_rules() {
    let acl = AccessControl::new()
        .rule(AccessRule {
            uids: Some(vec![1000]),
            gids: Some(vec![50]),
            networks: Some(vec![net("10.0.0.0/8")]),
            ..AccessRule::new("svc.*")
        })
        .rule(AccessRule::new("open"));
    let cred = |uid, gid| PeerCredentials {
        uid,
        gid,
        pid: None,
    };
    let (owner, member, stranger) = (cred(1000, 1), cred(7, 50), cred(7, 7));
    let unix = |c| PeerAddress::Unix(Some(c));
    assert!(acl.check_registration("svc.a", unix(&owner)).is_ok());
    assert!(acl.check_registration("svc.a", unix(&member)).is_ok());
    let denied = acl
        .check_registration("svc.a", unix(&stranger))
        .unwrap_err();
    assert_eq!(denied.kind(), crate::ErrorKind::Access);
    // Secondaries are judged by their primary's rule.
    assert!(acl.check_registration("svc.a%%1", unix(&stranger)).is_err());
    assert!(acl
        .check_registration("svc.a", PeerAddress::Unix(None))
        .is_err());
    let tcp = |ip: &str| PeerAddress::Tcp(ip.parse().unwrap());
    assert!(acl.check_registration("svc.a", tcp("10.9.9.9")).is_ok());
    assert!(acl.check_registration("svc.a", tcp("127.0.0.1")).is_err());
    assert!(acl.check_registration("open", tcp("127.0.0.1")).is_ok());
    assert!(acl.check_registration("nobody", tcp("10.0.0.1")).is_err());
    // The first matching rule wins.
    let acl = AccessControl::new()
        .rule(AccessRule {
            networks: Some(vec![]),
            ..AccessRule::new("a")
        })
        .rule(AccessRule::new("*"));
    assert!(acl.check_registration("a", tcp("127.0.0.1")).is_err());
    assert!(acl.check_registration("b", tcp("127.0.0.1")).is_ok());
}

#[test]
fn shared_rules_swap_for_new_captures() {
    let shared = SharedAccessControl::new(AccessControl::new().rule(AccessRule::new("a")));
    let captured = shared.current();
    shared.replace(AccessControl::new());
    assert!(captured.rule_for("a").is_some());
    assert!(shared.current().rule_for("a").is_none());
}

#[cfg(feature = "acl-file")]
#[test]
fn the_example_file_parses() {
    let text = include_str!("../../../examples/acl.toml");
    let acl = AccessControl::from_toml(text).unwrap();
    assert!(!acl.rules.is_empty());
    let err = AccessControl::from_toml("[[client]]\nname = \"a\"\nbogus = 1\n").unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
    let err = AccessControl::from_toml("[[client]]\nname = \"a\"\nnetworks = [\"1.2.3.4/99\"]\n")
        .unwrap_err();
    assert!(err.to_string().contains("prefix"), "{err}");
}
